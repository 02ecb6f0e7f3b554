"""The local runner: a scenario's specs, one after another, in this process.

Each trial runs exactly as a worker runs it (`run_trial`: a shard written, then merged into
the run folder), so a run on one machine and a run over a cluster produce the same folder.
Results so far are kept whatever happens, and nothing is left running.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness import configs as config_files
from harness.errors import HarnessError
from harness.progress import RunUI
from harness.results import RunDir
from harness.runner.context import TrialEnv
from harness.runner.host import host_facts
from harness.runner.merge import keep_logs, merge
from harness.runner.servers import ServerPool
from harness.runner.shard import Shard
from harness.spec import ConfigSpec, TrialSpec


@dataclass
class Plan:
    """What a scenario will run: its specs, the configs they use, facts for environment.json,
    and notes said before the run starts."""

    specs: list[TrialSpec]
    configs: list[ConfigSpec] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def run_trial(scenario, spec: TrialSpec, shard: Shard, env: TrialEnv) -> list[dict]:
    """One trial into its shard (the worker's code path too); returns the rows it wrote."""
    scenario.run(spec, env, shard)
    return shard.rows()


def check_configs(pool: ServerPool, plan: Plan, run: RunDir, echo) -> None:
    """Every config against every server it will run on, before any trial: the real server is
    the only authority on what it accepts."""
    for config in plan.configs:
        run.write_config(config.name, config.text)
    written = [config_files.write_config(c, run.path / "configs") for c in plan.configs]
    for choice in dict.fromkeys(spec.server for spec in plan.specs):
        backend, build = pool.get(choice)
        echo(f"checking {len(written)} config(s) against the server: {', '.join(c.name for c in written)}")
        config_files.check_all(backend, written, build)


def start_environment(pool: ServerPool, plan: Plan, run: RunDir, echo) -> dict:
    echo("measuring this data directory's fsync rate (the bound on appendfsync always)")
    host = host_facts(run.path)
    first = plan.specs[0].server
    environment = {
        "run_id": run.run_id,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **{k: v for k, v in host.items() if k != "disk_fsync"},
        **pool.describe(first),
        **plan.environment,
        "disk_fsync": host.get("disk_fsync"),
    }
    run.write_environment(environment)
    return host


def combine(plans: list[Plan]) -> Plan:
    """Several scenarios' plans as one run: their specs in order, every config once, their facts."""
    configs = list({c.name: c for p in plans for c in p.configs}.values())
    environment: dict = {}
    for part in plans:
        environment.update(part.environment)
    return Plan([s for p in plans for s in p.specs], configs, environment, [n for p in plans for n in p.notes])


def run_plan(scenario, plan: Plan, run: RunDir, ui: RunUI) -> None:
    """Run every spec of `plan` with `scenario` (a scenario module, or several as one: see
    scenarios.combined). A scenario may `prepare(plan, pool, echo)` once its servers can be asked
    (drop what they cannot run, and say so) before the first trial."""
    if not plan.specs:
        raise HarnessError("nothing to run: the plan has no trials")
    pool = ServerPool(run.run_id, ui.echo, owner=str(run.root.resolve()))
    try:
        check_configs(pool, plan, run, ui.echo)
        prepare = getattr(scenario, "prepare", None)
        plan = prepare(plan, pool, ui.echo) if prepare is not None else plan
        if not plan.specs:
            raise HarnessError("nothing to run: no trial of the plan can run on this server")
        env = TrialEnv(pool, start_environment(pool, plan, run, ui.echo), ui.step)
        ui.begin(len(plan.specs))
        for number, spec in enumerate(plan.specs, 1):
            ui.trial(number, spec.trial_id)
            shard = Shard.create(run.shard_dir(spec.trial_id), spec.with_run(run.run_id))
            try:
                run_trial(scenario, shard.spec(), shard, env)
            except BaseException:
                keep_logs(shard, run)  # a trial that failed is explained by its servers' logs
                raise
            rows = merge(shard, run)
            run.mark_latest()
            ui.trial_done(scenario.trial_line(rows[0]))
        ui.end()
    finally:
        pool.cleanup()
        run.tidy()
