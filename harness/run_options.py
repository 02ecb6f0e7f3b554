"""What the options of `python -m harness run` mean for each scenario it runs.

One run can hold several scenarios (`--scenarios`, default: every scenario of the default run).
Each scenario has its own defaults (the crash matrix 3 trials of 4 s at full speed; eviction one
trial per policy and other-data variant, a rate-limited session load beside the other data;
...). A shared option the user *gave* (`--trials`, `--duration`, `--concurrency`, `--rate`, ...)
applies to every scenario; one left at its default leaves each scenario its own. Options named
after a scenario (`--maxmemory`, `--downtime`, `--pitfalls`...) are that scenario's.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import click

from harness.errors import HarnessError
from harness.spec import ServerChoice, Timeline
from harness.workload.other_load import VARIANTS, OtherData
from harness.workload.session import Mix, WorkloadParams

DEFAULT_SCENARIOS = ("crash-matrix", "failover", "eviction", "expiry", "pitfalls")
QUICK_DURATION_S = {"crash-matrix": 3.0, "failover": 2.5, "eviction": 2.0, "expiry": 1.5, "pitfalls": 1.0}
# CLI parameter -> WorkloadParams field, for the shared load options.
WORKLOAD_OPTIONS = {"concurrency": "concurrency", "connections": "connections", "users": "users",
                    "rate_ops_s": "rate_ops_s", "baseline_sessions": "baseline_sessions", "ttl_s": "ttl_s",
                    "value_bytes": "value_bytes", "mix": "mix"}

_OPTIONS = [
    click.option("--scenarios", "scenario_names", multiple=True, metavar="NAMES",
                 help=f"Scenarios to run, space or comma separated: {', '.join(DEFAULT_SCENARIOS)}. "
                      "Default: all of them."),
    click.option("--policies", "policy_names", multiple=True, metavar="NAMES",
                 help="Eviction: maxmemory-policy configs to run (file names in --eviction-configs-dir). "
                      "Default: all."),
    click.option("--eviction-configs-dir", type=click.Path(path_type=Path), default=Path("configs/eviction"),
                 show_default=True, help="Eviction: folder of config fragments, one per maxmemory-policy."),
    click.option("--maxmemory", default="16mb", show_default=True,
                 help="Eviction: the memory limit, as redis.conf writes it (a fragment's own maxmemory line wins)."),
    click.option("--other-data", "other_variants", multiple=True, metavar="no-ttl|ttl",
                 help="Eviction: the other data's keys carry no TTL, or one each. Default: both, a trial each."),
    click.option("--other-bytes", type=click.IntRange(1), default=OtherData.value_bytes, show_default=True,
                 help="Eviction: size of an other-data value."),
    click.option("--other-rate", type=click.FloatRange(1), default=OtherData.rate_ops_s, show_default=True,
                 help="Eviction: other-data writes per second (new keys, until memory is full and beyond)."),
    click.option("--other-ttl", type=click.IntRange(1), default=300, show_default=True,
                 help="Eviction: the TTL of the other data's keys in the ttl variant (seconds)."),
    click.option("--eviction-fault", default="none", show_default=True,
                 help="Eviction: a crash as well (kill9, power-loss...); none: the load runs to its end."),
    click.option("--eviction-persistence", default=None, metavar="CONFIG",
                 help="Eviction with a crash: a persistence config from --configs-dir composed into each policy's "
                      "(default aof-everysec)."),
    click.option("--expiry-ttl", type=click.IntRange(1), default=3, show_default=True,
                 help="Expiry: the sessions' TTL in seconds."),
    click.option("--downtime", type=click.FloatRange(0), default=1.5, show_default=True,
                 help="Expiry: seconds the server stays down after the crash (shorter than the TTL)."),
    click.option("--expiry-fault", default="kill9", show_default=True, help="Expiry: the crash."),
    click.option("--pitfalls", "pitfall_names", multiple=True, metavar="NAMES",
                 help="Pitfalls to run: appendonly-safe, appendonly-edit, lost-volume. Default: all three."),
]


def scenario_options(command):
    """The scenario options of `run`, added to the command."""
    from harness.failover_cli import FAILOVER_OPTIONS  # noqa: PLC0415 - it reads the failover scenario's defaults

    for option in reversed([*_OPTIONS, *FAILOVER_OPTIONS]):
        command = option(command)
    return command


def names_of(values: tuple[str, ...]) -> list[str] | None:
    """'a b', 'a,b' and repeated options all mean [a, b]."""
    names = [name for value in values for name in value.replace(",", " ").split()]
    return names or None


def fault_names_of(values: tuple[str, ...]) -> list[str] | None:
    """--faults as names_of, but a comma inside a fault's parameters stays with it (eio-write:mode=once,for_s=2)."""
    from harness.faults import split_names  # noqa: PLC0415

    return split_names(values) or None


def scenario_names(values: tuple[str, ...]) -> list[str]:
    names = names_of(values) or list(DEFAULT_SCENARIOS)
    unknown = [n for n in names if n not in DEFAULT_SCENARIOS]
    if unknown:
        raise HarnessError(f"--scenarios: unknown scenario {', '.join(map(repr, unknown))}: available are "
                           f"{', '.join(DEFAULT_SCENARIOS)}")
    return list(dict.fromkeys(names))


class RunValues:
    """The parsed options of `run`, and which of them the user gave."""

    def __init__(self, values: dict, given: set[str]) -> None:
        self.values, self.given = values, given
        # One seed for the whole run, whatever scenarios it holds: stored with every trial.
        self.seed = values["seed"] if values.get("seed") is not None else random.SystemRandom().randrange(2**31)

    def __getitem__(self, name: str):
        return self.values[name]

    def workload(self, default: WorkloadParams, exclude: tuple[str, ...] = ()) -> WorkloadParams:
        changes = {field: self.values[option] for option, field in WORKLOAD_OPTIONS.items()
                   if option in self.given and option not in exclude}
        if "mix" in changes:
            changes["mix"] = Mix.parse(changes["mix"])
        return replace(default, **changes)

    def timeline(self, scenario: str, default: Timeline) -> Timeline:
        duration = self.values["duration"] if "duration" in self.given else \
            QUICK_DURATION_S[scenario] if self.values["quick"] else default.duration_s
        ceiling = self.values["ceiling_requests"] if "ceiling_requests" in self.given else default.ceiling_requests
        return replace(default, duration_s=duration, ceiling_requests=ceiling)

    def trials(self, default: int) -> int:
        return self.values["trials"] if "trials" in self.given else 1 if self.values["quick"] else default

    def common(self) -> dict:
        """What every scenario's options take alike."""
        values = self.values
        return {"server": ServerChoice.of(values["backend"], values["image"], values["server_bin"]),
                "keep_data": values["keep_data"], "port": values["port"], "seed": self.seed}

    def servers(self) -> tuple[ServerChoice, ...]:
        """--servers (the crash matrix's server dimension); () for the one --image / --server-bin."""
        from harness.server.choices import parse_servers  # noqa: PLC0415

        if not self.values.get("server_entries"):
            return ()
        for clash in ("image", "server_bin"):
            if clash in self.given:
                raise HarnessError(f"--servers lists the servers; drop --{clash.replace('_', '-')}")
        return tuple(parse_servers(self.values["server_entries"], self.values["backend"]))


def other_variants(values: tuple[str, ...]) -> list[str]:
    return names_of(values) or list(VARIANTS)


# -- each scenario's plan from the options ---------------------------------------------------------

def crash_matrix_plan(run: RunValues):
    from scenarios import crash_matrix  # noqa: PLC0415 - the scenarios import the harness

    v = run.values
    workload = WorkloadParams(concurrency=v["concurrency"], connections=v["connections"], users=v["users"],
                              rate_ops_s=v["rate_ops_s"], baseline_sessions=v["baseline_sessions"], ttl_s=v["ttl_s"],
                              value_bytes=v["value_bytes"], mix=Mix.parse(v["mix"]))
    timeline = run.timeline("crash-matrix", Timeline(after_s=0.5 if v["quick"] else Timeline.after_s))
    options = crash_matrix.MatrixOptions(
        configs_dir=v["configs_dir"], config_names=names_of(v["config_names"]), fault_names=fault_names_of(v["fault_names"]),
        fault_settings={"fs_metadata": v["fs_metadata"], "fs_writeback": v["fs_writeback"]},
        trials=run.trials(3), timeline=timeline, results_root=v["results_root"], workload=workload,
        servers=run.servers(), **run.common())
    return crash_matrix.plan(options)


def eviction_plan(run: RunValues):
    from scenarios import eviction  # noqa: PLC0415

    v = run.values
    options = eviction.EvictionOptions(
        configs_dir=v["eviction_configs_dir"], policy_names=names_of(v["policy_names"]), maxmemory=v["maxmemory"],
        other_variants=other_variants(v["other_variants"]),
        other=OtherData(ttl_s=v["other_ttl"], value_bytes=v["other_bytes"], rate_ops_s=v["other_rate"]),
        fault_name=v["eviction_fault"], fault_settings={"fs_metadata": v["fs_metadata"],
                                                        "fs_writeback": v["fs_writeback"]},
        persistence=v["eviction_persistence"], persistence_dir=v["configs_dir"], trials=run.trials(1),
        timeline=run.timeline("eviction", eviction.TIMELINE), workload=run.workload(eviction.SESSION_LOAD),
        **run.common())
    return eviction.plan(options)


def expiry_plan(run: RunValues):
    from scenarios import expiry  # noqa: PLC0415

    v = run.values
    workload = replace(run.workload(expiry.SESSION_LOAD, exclude=("ttl_s",)), ttl_s=v["expiry_ttl"])
    options = expiry.ExpiryOptions(
        configs_dir=v["configs_dir"], config_names=names_of(v["config_names"]), fault_name=v["expiry_fault"],
        fault_settings={"fs_metadata": v["fs_metadata"], "fs_writeback": v["fs_writeback"]},
        downtime_s=v["downtime"], trials=run.trials(1), timeline=run.timeline("expiry", expiry.TIMELINE),
        workload=workload, **run.common())
    return expiry.plan(options)


def pitfalls_plan(run: RunValues):
    from scenarios import pitfalls  # noqa: PLC0415

    v = run.values
    options = pitfalls.PitfallOptions(
        configs_dir=v["configs_dir"], pitfall_names=names_of(v["pitfall_names"]), trials=run.trials(1),
        timeline=run.timeline("pitfalls", pitfalls.TIMELINE), workload=run.workload(pitfalls.SESSION_LOAD),
        **run.common())
    return pitfalls.plan(options)


def failover_plan(run):
    """The failover scenario's plan from `run`'s options (a harness.run_options.RunValues): its own
    options, and the shared ones the user gave (--trials, --duration, the load's)."""
    import scenarios.failover as failover  # noqa: PLC0415
    from scenarios.failover.options import DEFAULT_TIMELINE, REQUEST_TIMEOUT_S, AppOptions, FailoverOptions  # noqa: PLC0415

    v = run.values
    trials = v["failover_trials"] if "failover_trials" in run.given else run.trials(1)
    timeline = run.timeline("failover", DEFAULT_TIMELINE)
    if "failover_duration" in run.given:
        timeline = replace(timeline, duration_s=v["failover_duration"])
    options = FailoverOptions(
        configs_dir=v["configs_dir"], config_names=names_of(v["failover_configs"]),
        fault_names=names_of(v["failover_faults"]), ack_modes=names_of(v["ack_modes"]),
        client_modes=names_of(v["client_modes"]), replicas=v["replicas"],
        down_after_ms=v["down_after_ms"], failover_timeout_ms=v["failover_timeout_ms"],
        min_replicas_max_lag_s=v["min_replicas_max_lag"], ack_timeout_ms=v["ack_timeout_ms"],
        fault_settings={"fs_metadata": v["fs_metadata"], "fs_writeback": v["fs_writeback"]},
        trials=trials, timeline=replace(timeline, ceiling_requests=0),
        workload=run.workload(WorkloadParams(op_timeout_s=REQUEST_TIMEOUT_S)),
        app=AppOptions(enabled=v["app"] and not v["quick"], threads=v["app_threads"], rate_per_thread=v["app_rate"]),
        **run.common())
    return failover.plan(options)


PLANNERS = {"crash-matrix": crash_matrix_plan, "failover": failover_plan, "eviction": eviction_plan, "expiry": expiry_plan,
            "pitfalls": pitfalls_plan}


def plans(run: RunValues, names: list[str]) -> dict:
    """Each named scenario's plan (everything checked that can be without a server)."""
    return {name: PLANNERS[name](run) for name in names}
