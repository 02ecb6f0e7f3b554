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
    server: ServerChoice = field(default_factory=ServerChoice)  # the one server, unless `servers` lists several
    servers: tuple[ServerChoice, ...] = ()  # servers compared side by side (harness.server.choices)
    results_root: Path = Path("results")
    keep_data: bool = False
    port: int | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))
    workload: WorkloadParams = field(default_factory=WorkloadParams)

    @property
    def server_list(self) -> list[ServerChoice]:
        return list(self.servers) or [self.server]


def expand(options: MatrixOptions, selected: list, chosen: list) -> list[TrialSpec]:
    """The matrix as specs. Servers are the innermost loop: the same (config, fault, trial) runs on
    each server back to back, with the same seed (the same load and the same fault moment), so a
    drift in this shared machine's load falls on every server alike. With one server, trial ids
    are `<config>__<fault>__<n>`; with several, the server's name comes first."""
    servers = options.server_list
    specs = []
    for config in selected:
        for fault in chosen:
            for number in range(1, options.trials + 1):
                seed = trial_seed(options.seed, config.name, fault.key, number)
                for server in servers:
                    parts = (config.name, fault.key, number)
                    specs.append(TrialSpec(
                        scenario=NAME, trial_id=trial_id(*((server.name,) if len(servers) > 1 else ()), *parts),
                        trial=number, seed=seed, config=config.spec(), server=server, fault=fault.spec(),
                        workload=options.workload, timeline=options.timeline, keep_data=options.keep_data,
                        port=options.port))
    return specs


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
        if fault.needs_failover:
            raise HarnessError(f"fault {fault.name} needs a primary with replicas and Sentinels: it runs in the "
                               f"failover scenario (--scenarios failover --failover-faults {fault.name})")
        fault.check()
        for config in selected:
            fault.check_with(config.spec(), options.workload)
    specs = expand(options, selected, chosen)
    environment = {
        "scenario": NAME, "seed": options.seed, "trials": options.trials,
        "duration_s": options.timeline.duration_s, "after_s": options.timeline.after_s,
        "configs": [c.name for c in selected], "faults": [f.key for f in chosen],
        "servers_requested": [s.label for s in options.server_list],
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
    reaction = row.get("server_reaction") or ""
    said = f", the server {reaction}" if reaction and reaction != "restarted" else ""
    recovery = f"recovery {row['recovery_s']:.3f} s" if truthy(row.get("restarted", True)) else "not restarted"
    return (f"{row['trial_id']}: {status}: {row['lost_sessions']} sessions lost "
            f"({row['lost_writes']} of {row['acked_writes']} acknowledged writes){said}, "
            f"{row['throughput_ops_s']:,.0f} ops/s, {recovery}")
