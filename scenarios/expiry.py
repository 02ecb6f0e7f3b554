"""Expiry across downtime: sessions with TTLs of seconds, a crash, the server down for longer
than some sessions have left and shorter than others, then a restart on what survived.

A TTL is an absolute time: a session whose expiry passed while the server was down must be gone
when it is back (a **zombie** otherwise), one whose expiry lies ahead must be there if its data
survived (**expired early** if an older expiry came back with it). Under every persistence config
(the crash matrix's, from configs/), one trial each by default. A session's remaining TTL at the
fault is spread from 0 to the TTL (each login or refresh sets it anew), so a downtime shorter than
the TTL splits the sessions into those that expire while the server is down and those that do not.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import configs as config_files
from harness import faults
from harness.errors import HarnessError
from harness.record import truthy
from harness.runner.context import TrialEnv
from harness.runner.local import Plan
from harness.runner.shard import Shard
from harness.spec import ServerChoice, Timeline, TrialSpec, trial_id, trial_seed
from harness.trial import CrashTrial
from harness.workload.session import WorkloadParams

NAME = "expiry"
CHECKERS = ("durability", "expiry", "speed")
TTL_S = 3  # the sessions' TTL: long enough to outlive the load, short enough to pass in the downtime
DOWNTIME_S = 1.5  # from the fault taking effect to the restart
# 10,000 ops/s: with TTLs of seconds nearly every session's expiry overlaps its own operations, so
# the exact checker keeps both branches ("expired or not") per operation; this keeps it quick.
SESSION_LOAD = WorkloadParams(rate_ops_s=10_000.0, users=10_000, baseline_sessions=2000, ttl_s=TTL_S)
TIMELINE = Timeline(duration_s=2.0, after_s=0.2, fault_window=(0.7, 0.9), ceiling_requests=0)


@dataclass(frozen=True)
class ExpiryOptions:
    configs_dir: Path = Path("configs")
    config_names: list[str] | None = None
    fault_name: str = "kill9"
    fault_settings: dict = field(default_factory=dict)
    downtime_s: float = DOWNTIME_S
    trials: int = 1
    timeline: Timeline = TIMELINE
    server: ServerChoice = field(default_factory=ServerChoice)
    keep_data: bool = False
    port: int | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))
    workload: WorkloadParams = SESSION_LOAD


def plan(options: ExpiryOptions) -> Plan:
    if options.downtime_s < 0:
        raise HarnessError("--downtime must be 0 or more seconds")
    if options.downtime_s >= options.workload.ttl_s:
        raise HarnessError(f"--downtime {options.downtime_s:g} s is not shorter than the TTL ({options.workload.ttl_s} "
                           "s, --expiry-ttl): every session would expire while the server is down")
    selected = config_files.select(config_files.discover(options.configs_dir), options.config_names)
    for config in selected:
        config_files.read_check(config)
    (fault,) = faults.select([options.fault_name], options.fault_settings)
    fault.check()
    specs = [
        TrialSpec(scenario=NAME, trial_id=trial_id(NAME, config.name, fault.name, number), trial=number,
                  seed=trial_seed(options.seed, NAME, config.name, fault.name, number), config=config.spec(),
                  server=options.server, fault=fault.spec(), workload=options.workload, timeline=options.timeline,
                  checkers=CHECKERS, scenario_options={"downtime_s": options.downtime_s},
                  keep_data=options.keep_data, port=options.port)
        for config in selected for number in range(1, options.trials + 1)
    ]
    environment = {"scenario": NAME, "seed": options.seed, "trials": options.trials, "fault": fault.name,
                   "configs": [c.name for c in selected], "ttl_s": options.workload.ttl_s,
                   "downtime_s": options.downtime_s, "duration_s": options.timeline.duration_s,
                   "workload": options.workload.as_dict()}
    return Plan(specs, [c.spec() for c in selected], environment)


def stay_down(trial: CrashTrial, seconds: float) -> None:
    """Keep the server down until `seconds` after the fault took effect."""
    trial.env.step(f"staying down {seconds:g} s")
    took_effect_s = trial.stamps.get("fault_effect_ns", time.time_ns()) / 1e9
    time.sleep(max(0.0, took_effect_s + seconds - time.time()))


def run(spec: TrialSpec, env: TrialEnv, shard: Shard) -> None:
    with CrashTrial(spec, env, shard) as trial:
        trial.start()
        persisted = trial.baseline()
        trial.load_and_fault(persisted)
        stay_down(trial, float(spec.scenario_options.get("downtime_s", DOWNTIME_S)))
        trial.restart()
        trial.evidence["restart"] = trial.restart_columns.to_row()  # what the restart loaded, for the checker
        trial.read_back()
    trial.judge()


def trial_line(row: dict) -> str:
    status = "RESTART FAILED: " if truthy(row.get("restart_failed")) else ""
    return (f"{row['trial_id']}: {status}{row['expired_in_downtime_gone']:,} of {row['expired_in_downtime']:,} "
            f"sessions that expired while down are gone, {row['zombie_sessions']:,} zombies, "
            f"{row['expired_early']:,} expired early, {row['lost_sessions']:,} lost")
