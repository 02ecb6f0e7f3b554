"""Restart pitfalls: sessions lost in ways no persistence table shows.

On a server with an RDB dataset (the crash matrix's `rdb` config: save points, no AOF), under
the session load, an operator turns the AOF on and restarts, two ways: editing `appendonly yes`
into the config file and restarting (`appendonly-edit`, the pitfall), and the safe path,
`CONFIG SET appendonly yes`, wait for the rewrite, then edit the file and restart
(`appendonly-safe`). And a control: the server restarted on a data directory that is not the one
it saved into (`lost-volume`, a container recreated without its volume). Each is a trial judged
like a crash (lost sessions), but every stop is a clean SIGTERM: the server saved before it exited.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from harness import configs as config_files
from harness import faults
from harness.record import truthy
from harness.runner.context import TrialEnv
from harness.runner.local import Plan
from harness.runner.shard import Shard
from harness.spec import ServerChoice, Timeline, TrialSpec, trial_id, trial_seed
from harness.trial import CrashTrial
from harness.workload.session import WorkloadParams

NAME = "pitfalls"
PITFALLS = ("appendonly-safe", "appendonly-edit", "lost-volume")
CONFIG = "rdb"  # a server holding an RDB dataset
SESSION_LOAD = WorkloadParams(rate_ops_s=10_000.0, users=10_000, baseline_sessions=2000)
TIMELINE = Timeline(duration_s=1.5, after_s=0.3, ceiling_requests=0)


@dataclass(frozen=True)
class PitfallOptions:
    configs_dir: Path = Path("configs")
    config_name: str = CONFIG
    pitfall_names: list[str] | None = None
    trials: int = 1
    timeline: Timeline = TIMELINE
    server: ServerChoice = field(default_factory=ServerChoice)
    keep_data: bool = False
    port: int | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))
    workload: WorkloadParams = SESSION_LOAD


def plan(options: PitfallOptions) -> Plan:
    (config,) = config_files.select(config_files.discover(options.configs_dir), [options.config_name])
    config_files.read_check(config)
    chosen = faults.select(list(options.pitfall_names or PITFALLS))
    specs = [
        TrialSpec(scenario=NAME, trial_id=trial_id(NAME, config.name, fault.name, number), trial=number,
                  seed=trial_seed(options.seed, NAME, config.name, fault.name, number), config=config.spec(),
                  server=options.server, fault=fault.spec(), workload=options.workload, timeline=options.timeline,
                  keep_data=options.keep_data, port=options.port)
        for fault in chosen for number in range(1, options.trials + 1)
    ]
    environment = {"scenario": NAME, "seed": options.seed, "trials": options.trials, "config": config.name,
                   "pitfalls": [f.name for f in chosen], "duration_s": options.timeline.duration_s,
                   "workload": options.workload.as_dict()}
    return Plan(specs, [config.spec()], environment)


def run(spec: TrialSpec, env: TrialEnv, shard: Shard) -> None:
    with CrashTrial(spec, env, shard) as trial:
        trial.start()
        persisted = trial.baseline()
        trial.load_and_fault(persisted)
        trial.restart()
        trial.read_back()
    trial.judge()


def trial_line(row: dict) -> str:
    status = "RESTART FAILED: " if truthy(row.get("restart_failed")) else ""
    return (f"{row['trial_id']}: {status}{row['lost_sessions']:,} sessions lost, {row['dataset_keys']:,} came back "
            f"(restart loaded {row.get('loaded_from') or 'nothing'})")
