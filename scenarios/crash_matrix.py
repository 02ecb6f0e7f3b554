"""The crash matrix: every config x every fault x N trials, then the report.

One trial: start the server on an empty data directory, log in a baseline population and
persist it as the config allows, drive the session load, break the server at a random moment
under load, restart it on the same data, read back every session the history touched, and
let the checkers judge.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

NAME = "crash-matrix"


@dataclass(frozen=True)
class MatrixOptions:
    configs_dir: Path = Path("configs")
    config_names: list[str] | None = None
    fault_names: list[str] | None = None
    fault_settings: dict[str, Any] = field(default_factory=dict)  # e.g. fs_metadata, for the faults that take it
    trials: int = 3
    timeline: Timeline = field(default_factory=Timeline)
    server: ServerChoice = field(default_factory=ServerChoice)
    results_root: Path = Path("results")
    keep_data: bool = False
    port: int | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))
    workload: WorkloadParams = field(default_factory=WorkloadParams)


def plan(options: MatrixOptions) -> Plan:
    """Everything that can be checked without a server: names, files, owned settings, faults."""
    selected = config_files.select(config_files.discover(options.configs_dir), options.config_names)
    for config in selected:
        config_files.read_check(config)
    notes = []
    names = options.fault_names
    if not names:
        names, note = faults.default_names()
        notes += [note] if note else []
    chosen = faults.select(names, options.fault_settings)
    for fault in chosen:
        if fault.needs_failover or not fault.leaves_target_down:
            raise HarnessError(f"fault {fault.name} needs a primary with replicas and Sentinels: it runs in the "
                               f"failover scenario (--scenarios failover --failover-faults {fault.name})")
        fault.check()
    specs = [
        TrialSpec(scenario=NAME, trial_id=trial_id(config.name, fault.name, number), trial=number,
                  seed=trial_seed(options.seed, config.name, fault.name, number), config=config.spec(),
                  server=options.server, fault=fault.spec(), workload=options.workload, timeline=options.timeline,
                  keep_data=options.keep_data, port=options.port)
        for config in selected for fault in chosen for number in range(1, options.trials + 1)
    ]
    environment = {
        "scenario": NAME, "seed": options.seed, "trials": options.trials,
        "duration_s": options.timeline.duration_s, "after_s": options.timeline.after_s,
        "configs": [c.name for c in selected], "faults": [f.name for f in chosen],
        "workload": options.workload.as_dict(), "ceiling_requests": options.timeline.ceiling_requests,
    }
    return Plan(specs, [c.spec() for c in selected], environment, notes)


def run(spec: TrialSpec, env: TrialEnv, shard: Shard) -> None:
    with CrashTrial(spec, env, shard) as trial:
        trial.start()
        trial.measure_ceiling()
        persisted = trial.baseline()
        trial.load_and_fault(persisted)
        trial.restart()
        trial.read_back()
    trial.judge()


def trial_line(row: dict) -> str:
    status = "RESTART FAILED" if truthy(row.get("restart_failed")) else "done"
    return (f"{row['trial_id']}: {status}: {row['lost_sessions']} sessions lost "
            f"({row['lost_writes']} of {row['acked_writes']} acknowledged writes), "
            f"{row['throughput_ops_s']:,.0f} ops/s, recovery {row['recovery_s']:.3f} s")
