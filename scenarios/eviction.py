"""Eviction: sessions dropped without a crash, by the server's choice, when memory is full.

Per `maxmemory-policy` (one config fragment per policy in configs/eviction/) and per kind of
*other data* in the same server (a cache whose keys carry no TTL, or one each): start the server
with a memory limit, log in a baseline, then run the session load (rate-limited, as a session
store's share of a server) beside the other data growing until memory is full and beyond; the
server says which keys it evicted (keyspace notifications, checked against INFO). Optionally a
crash too (`fault`, with a persistence config composed in): evictions go to the AOF as deletes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness import configs as config_files
from harness import faults
from harness.configs import Config
from harness.errors import HarnessError
from harness.maxmemory import Room, RoomCheck, compose, parse_size
from harness.pressure import MemoryPressure
from harness.record import truthy
from harness.runner.context import TrialEnv
from harness.runner.local import Plan
from harness.runner.shard import Shard
from harness.server.aof import deleted_keys
from harness.spec import ConfigSpec, FaultSpec, ServerChoice, Timeline, TrialSpec, trial_id, trial_seed
from harness.trial import CrashTrial
from harness.workload.other_load import VARIANTS, OtherData
from harness.workload.session import WorkloadParams

NAME = "eviction"
CHECKERS = ("durability-evictions", "eviction", "speed")
# The session load as one tenant of a shared server: 5,000 ops/s (about 1,250 logins/s), while
# the other data comes at 10,000 writes/s of 1,000 bytes: a 16 MB limit is full after about 1 s.
SESSION_LOAD = WorkloadParams(rate_ops_s=5000.0, users=10_000, baseline_sessions=2000)
TIMELINE = Timeline(duration_s=2.5, after_s=0.3, ceiling_requests=0)
OTHER_TTL_S = 300  # the ttl variant's TTL: a cache entry's five minutes, shorter than a session's 30


@dataclass(frozen=True)
class EvictionOptions:
    configs_dir: Path = Path("configs/eviction")
    policy_names: list[str] | None = None  # file names in configs_dir; None: all
    maxmemory: str = "16mb"
    other_variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    other: OtherData = field(default_factory=lambda: OtherData(ttl_s=OTHER_TTL_S))  # ttl_s: the ttl variant's
    fault_name: str = faults.NO_FAULT  # or a crash: kill9, power-loss...
    fault_settings: dict = field(default_factory=dict)
    persistence: str | None = None  # a persistence config (from persistence_dir) composed into each policy's
    persistence_dir: Path = Path("configs")
    trials: int = 1
    timeline: Timeline = TIMELINE
    server: ServerChoice = field(default_factory=ServerChoice)
    keep_data: bool = False
    port: int | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))
    workload: WorkloadParams = SESSION_LOAD


def _variants(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise HarnessError(f"--other-data {' '.join(names) or '(none)'}: choose among "
                                        f"{', '.join(VARIANTS)}")
    return list(dict.fromkeys(names))


def _fault(options: EvictionOptions) -> tuple[FaultSpec, list[Config]]:
    """The crash, if any, and the persistence config it needs (checked like any other)."""
    if options.fault_name == faults.NO_FAULT:
        if options.persistence:
            raise HarnessError("--eviction-persistence needs a crash (--eviction-fault): without one "
                                            "nothing is read from disk")
        return FaultSpec(faults.NO_FAULT), []
    (fault,) = faults.select([options.fault_name], options.fault_settings)
    fault.check()
    persistence = config_files.select(config_files.discover(options.persistence_dir),
                                      [options.persistence or "aof-everysec"])
    config_files.read_check(persistence[0])
    return fault.spec(), persistence


def _composed(options: EvictionOptions, persistence: list[Config]) -> list[tuple[ConfigSpec, ConfigSpec]]:
    """(policy fragment, the config a trial runs) per selected policy."""
    fragments = config_files.select(config_files.discover(options.configs_dir), options.policy_names)
    pairs = []
    for fragment in fragments:
        config_files.read_check(fragment)
        extra = persistence[0] if persistence else None
        name = f"{fragment.name}+{extra.name}" if extra else fragment.name
        pairs.append((fragment.spec(), compose(fragment.spec(), options.maxmemory, extra.text() if extra else "",
                                               extra.where if extra else "", name)))
    return pairs


def plan(options: EvictionOptions) -> Plan:
    parse_size(options.maxmemory)
    variants = _variants(options.other_variants)
    fault, persistence = _fault(options)
    pairs = _composed(options, persistence)
    room = Room(options.workload.baseline_sessions, options.workload.value_bytes)
    specs = [
        TrialSpec(scenario=NAME, trial_id=trial_id(NAME, config.name, variant, fault.name, number), trial=number,
                  seed=trial_seed(options.seed, NAME, config.name, variant, number), config=config,
                  server=options.server, fault=fault, workload=options.workload, timeline=options.timeline,
                  checkers=CHECKERS, keep_data=options.keep_data, port=options.port,
                  scenario_options={"other_ttl_s": options.other.ttl_s if variant == "ttl" else 0,
                                    "other_value_bytes": options.other.value_bytes,
                                    "other_rate_ops_s": options.other.rate_ops_s, "other_batch": options.other.batch})
        for _, config in pairs for variant in variants for number in range(1, options.trials + 1)
    ]
    environment = {"scenario": NAME, "seed": options.seed, "trials": options.trials, "maxmemory": options.maxmemory,
                   "policies": [c.name for _, c in pairs], "other_data": variants, "fault": fault.name,
                   "other_ttl_s": options.other.ttl_s, "other_value_bytes": options.other.value_bytes,
                   "other_rate_ops_s": options.other.rate_ops_s, "duration_s": options.timeline.duration_s,
                   "workload": options.workload.as_dict()}
    configs = [p.spec() for p in persistence] + [config for _, config in pairs]
    checks = [RoomCheck.of(fragment, config, options.maxmemory, room) for fragment, config in pairs]
    return Plan(specs, configs, environment, checks=checks)


def other_data_of(spec: TrialSpec) -> OtherData:
    given = spec.scenario_options
    return OtherData(ttl_s=int(given.get("other_ttl_s", 0)),
                     value_bytes=int(given.get("other_value_bytes", OtherData.value_bytes)),
                     rate_ops_s=float(given.get("other_rate_ops_s", OtherData.rate_ops_s)),
                     batch=int(given.get("other_batch", OtherData.batch)))


def run(spec: TrialSpec, env: TrialEnv, shard: Shard) -> None:
    with CrashTrial(spec, env, shard) as trial:
        trial.start()
        persisted = trial.baseline()
        data = other_data_of(spec)
        with MemoryPressure(trial.topology.primary, data) as pressure:
            pressure.start()
            env.step(f"other data ({data.variant}) at {data.rate_ops_s:,.0f} writes/s beside the session load")
            pressure.start_other()
            if trial.fault is None:
                trial.load_without_fault(persisted)
            else:
                trial.load_and_fault(persisted)
                trial.restart()
            trial.evidence.update(pressure.finish())
        trial.read_back()
        if trial.fault is not None:  # after a crash, the AOF's deletions say what was evicted unannounced
            trial.evidence["aof_deletes"] = aof_deletes(trial.broken.server_dir)
    trial.judge()


def aof_deletes(data_dir: Path) -> pd.DataFrame:
    """Every key the server's AOF deletes (DEL or UNLINK), for the eviction checker."""
    return pd.DataFrame({"key": pd.array(deleted_keys(data_dir), dtype="string")})


def trial_line(row: dict) -> str:
    status = "RESTART FAILED: " if truthy(row.get("restart_failed")) else ""
    return (f"{row['trial_id']}: {status}{row['sessions_evicted']:,} sessions evicted, "
            f"{row['logins_refused_oom']:,} logins refused (OOM), {row['other_evicted']:,} other keys evicted, "
            f"{row['lost_sessions']:,} lost, {row['throughput_ops_s']:,.0f} ops/s")
