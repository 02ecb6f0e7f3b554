"""Failover: a primary, replicas and three Sentinels under the session load; a crash, a stall or a
cut link of the primary (or a replica's crash, the control); what the failover lost, what the
ack modes (WAIT, WAITAOF, min-replicas) bought, and what an application using redis-py saw.

Two parts, both in this scenario's rows of trials.csv:
- `driver`: config x fault x ack mode x client mode x trial, the harness's own load following
  the primary through the Sentinels (scenarios/failover/trial.py), judged by the durability,
  speed and failover checkers;
- `application`: redis-py as installed (its defaults) and as a careful team configures it, through
  a restart of a single server and through a failover (scenarios/failover/app_trial.py).
"""

from __future__ import annotations

from harness import configs as config_files
from harness import faults
from harness.record import truthy
from harness.runner.local import Plan
from harness.spec import TopologySpec, TrialSpec, trial_id, trial_seed
from harness.workload.acks import config_has_aof
from scenarios.failover.app_trial import APP_CLIENTS, SITUATIONS, app_spec_options, run_app
from scenarios.failover.options import AppOptions, FailoverOptions, check
from scenarios.failover.probe import prepare
from scenarios.failover.trial import FailoverTrial

NAME = "failover"
CHECKERS = ("durability", "speed", "failover")

__all__ = ["NAME", "plan", "run", "trial_line", "prepare", "FailoverOptions", "AppOptions"]


def _driver_specs(options: FailoverOptions, configs, notes: list[str]) -> list[TrialSpec]:
    specs = []
    chosen = faults.select(options.faults, options.fault_settings)
    for config in configs:
        for fault in chosen:
            for ack in options.acks:
                if ack == "waitaof" and not config_has_aof(config.text()):
                    notes.append(f"failover: ack mode waitaof skipped for config {config.name}: it has no AOF "
                                 "(appendonly no), and WAITAOF 1 1 needs one on the primary")
                    continue
                for client in options.clients:
                    for number in range(1, options.trials + 1):
                        parts = (NAME, config.name, fault.name, ack, client, number)
                        specs.append(TrialSpec(
                            scenario=NAME, trial_id=trial_id(*parts), trial=number,
                            seed=trial_seed(options.seed, *parts), config=config.spec(), server=options.server,
                            topology=TopologySpec("sentinel", options.topology_options(ack, fault.name)),
                            fault=fault.spec(), workload=options.workload, timeline=options.timeline,
                            checkers=CHECKERS, keep_data=options.keep_data, port=options.port,
                            scenario_options={"part": "driver", "ack_mode": ack, "client_mode": client,
                                              "ack_timeout_ms": options.ack_timeout_ms,
                                              "settle_timeout_s": options.settle_timeout_s}))
    return specs


def _app_specs(options: FailoverOptions, config) -> list[TrialSpec]:
    if not options.app.enabled:
        return []
    specs = []
    kill = faults.get("kill9")()
    for situation in SITUATIONS:
        for client in APP_CLIENTS:
            parts = (NAME, "app", situation, client)
            topology = TopologySpec("single") if situation == "restart" else \
                TopologySpec("sentinel", options.topology_options("plain", "kill9"))
            specs.append(TrialSpec(
                scenario=NAME, trial_id=trial_id(*parts), trial=1, seed=trial_seed(options.seed, *parts),
                config=config.spec(), server=options.server, topology=topology, fault=kill.spec(),
                workload=options.workload, timeline=options.timeline, checkers=("application",),
                keep_data=options.keep_data, port=options.port,
                scenario_options=app_spec_options(options.app, situation, client, options.settle_timeout_s)))
    return specs


def plan(options: FailoverOptions) -> Plan:
    """Everything that can be checked without a server: names, files, options, faults."""
    options = check(options)
    selected = config_files.select(config_files.discover(options.configs_dir), options.configs)
    for config in selected:
        config_files.read_check(config)
    notes: list[str] = []
    specs = _driver_specs(options, selected, notes) + _app_specs(options, selected[0])
    environment = {
        "seed": options.seed, "trials": options.trials, "configs": [c.name for c in selected],
        "faults": options.faults, "ack_modes": options.acks, "client_modes": options.clients,
        "replicas": options.replicas, "down_after_ms": options.down_after_ms,
        "failover_timeout_ms": options.failover_timeout_ms, "ack_timeout_ms": options.ack_timeout_ms,
        "min_replicas_max_lag_s": options.min_replicas_max_lag_s, "duration_s": options.timeline.duration_s,
        "after_s": options.timeline.after_s, "workload": options.workload.as_dict(),
        "application": vars(options.app) if options.app.enabled else None, "notes": list(notes)}
    return Plan(specs, [c.spec() for c in selected], environment, notes)


def run(spec: TrialSpec, env, shard) -> None:
    if spec.scenario_options.get("part") == "application":
        run_app(spec, env, shard)
        return
    with FailoverTrial(spec, env, shard) as trial:
        trial.start()
        persisted = trial.baseline()
        trial.load_and_fault(persisted)
        trial.settle()
        trial.read_back()
    trial.judge()


def trial_line(row: dict) -> str:
    if "requests" in row:  # an application trial: its checker's columns
        return (f"{row['trial_id']}: {row['requests_raised']:,} of {row['requests']:,} requests raised, "
                f"{row['wrongly_logged_out']:,} users wrongly logged out, first success "
                f"{row['first_success_s']:.2f} s after the fault")
    failed = " (old primary's restart failed)" if truthy(row.get("restart_failed")) else ""
    return (f"{row['trial_id']}: {row['lost_sessions']} sessions lost ({row['lost_writes']} of "
            f"{row['acked_writes']} acknowledged writes), failover {row.get('failover_s', float('nan')):.2f} s, "
            f"{row.get('acked_by_old_primary_after_promotion', 0)} acked by the old primary after promotion, "
            f"{row['throughput_ops_s']:,.0f} ops/s{failed}")
