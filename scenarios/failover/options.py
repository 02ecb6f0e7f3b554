"""The failover scenario's options, their defaults and their checks (all before any trial)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import faults
from harness.errors import HarnessError
from harness.faults.pause import PauseOptions
from harness.server.net import ensure_port_free
from harness.spec import ServerChoice, Timeline
from harness.topology.sentinel_setup import SENTINELS, SentinelOptions
from harness.workload.acks import ACK_MODES, DEFAULT_ACK_TIMEOUT_MS, AckMode
from harness.workload.route import ROUTES
from harness.workload.session import WorkloadParams

DEFAULT_CONFIGS = ["aof-everysec"]
DEFAULT_FAULTS = ["kill9", "pause"]
DEFAULT_ACK_MODES = ["plain", "wait"]
DEFAULT_CLIENT_MODES = ["lookup"]  # make failover adds subscribe (the default run stays near 6 minutes)
CLIENT_MODES = tuple(m for m in ROUTES if m != "fixed")
FAILOVER_FAULTS = ("kill9", "power-loss", "torn-power-loss", "pause", "partition", "kill9-replica")
# Shorter than the crash matrix's: a failover trial also waits for the failover, the old primary's
# demotion and its resync, and the load goes on through all of it.
DEFAULT_TIMELINE = Timeline(duration_s=2.5, after_s=1.0, ceiling_requests=0)
PAUSE_MAX_S = PauseOptions().max_s
REQUEST_TIMEOUT_S = 8.0  # the driver's: longer than a pause (at most PAUSE_MAX_S), with a margin
ELECTION_S = 2.0  # after down-after: the quorum, the vote and the promotion took 0.3-1.3 s here


@dataclass(frozen=True)
class AppOptions:
    """The application load (redis-py as the advice shows it), beside the harness's driver."""

    enabled: bool = True
    threads: int = 16
    rate_per_thread: float = 100.0  # requests per second each thread serves, on a fixed schedule
    duration_s: float = 2.5  # before the fault
    down_s: float = 2.0  # the standalone server stays down this long before it is restarted
    after_s: float = 2.0  # requests go on this long after the server (or the new primary) is back
    users: int = 2000

    def __post_init__(self) -> None:
        if self.threads < 1 or self.rate_per_thread <= 0 or self.duration_s <= 0 or self.users < self.threads:
            raise HarnessError("application load: threads >= 1, a positive rate and duration, users >= threads")


@dataclass(frozen=True)
class FailoverOptions:
    configs_dir: Path = Path("configs")
    config_names: list[str] | None = None  # default: aof-everysec
    fault_names: list[str] | None = None  # default: kill9, pause
    ack_modes: list[str] | None = None  # default: plain, wait
    client_modes: list[str] | None = None  # default: lookup, subscribe
    replicas: int = 1
    down_after_ms: int = 1000
    failover_timeout_ms: int = 10_000
    min_replicas_max_lag_s: int = 10
    ack_timeout_ms: int = DEFAULT_ACK_TIMEOUT_MS
    fault_settings: dict[str, Any] = field(default_factory=dict)  # e.g. fs_metadata for power-loss
    trials: int = 1
    timeline: Timeline = DEFAULT_TIMELINE
    settle_timeout_s: float = 40.0  # for the failover, the old primary's demotion, its resync
    workload: WorkloadParams = field(default_factory=lambda: WorkloadParams(op_timeout_s=REQUEST_TIMEOUT_S))
    app: AppOptions = field(default_factory=AppOptions)
    server: ServerChoice = field(default_factory=ServerChoice)
    keep_data: bool = False
    port: int | None = None  # the primary's; the replicas and Sentinels take the next ports
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))

    @property
    def configs(self) -> list[str]:
        return self.config_names or DEFAULT_CONFIGS

    @property
    def faults(self) -> list[str]:
        return self.fault_names or DEFAULT_FAULTS

    @property
    def acks(self) -> list[str]:
        return self.ack_modes or DEFAULT_ACK_MODES

    @property
    def clients(self) -> list[str]:
        return self.client_modes or DEFAULT_CLIENT_MODES

    def topology_options(self, ack: str, fault: str) -> dict:
        """The Sentinel topology's options for one trial (checked here, before any trial)."""
        options = SentinelOptions(replicas=self.replicas, down_after_ms=self.down_after_ms,
                                  failover_timeout_ms=self.failover_timeout_ms,
                                  proxied=fault == "partition", min_replicas_to_write=AckMode(ack).min_replicas,
                                  min_replicas_max_lag_s=self.min_replicas_max_lag_s)
        return {name: getattr(options, name) for name in options.__dataclass_fields__}


def _choose(kind: str, given: list[str], known) -> None:
    unknown = [name for name in given if name not in known]
    if unknown:
        raise HarnessError(f"unknown {kind} {', '.join(map(repr, unknown))}: available are {', '.join(known)}")


def check(options: FailoverOptions) -> FailoverOptions:
    """Every option that can be checked without a server."""
    _choose("failover fault", options.faults, FAILOVER_FAULTS)
    _choose("ack mode", options.acks, ACK_MODES)
    _choose("client mode", options.clients, CLIENT_MODES)
    AckMode(options.acks[0], options.ack_timeout_ms)
    for ack in options.acks:
        for fault in options.faults:
            options.topology_options(ack, fault)  # replicas, down-after, min-replicas: clear errors
    for fault in faults.select(options.faults, options.fault_settings):
        fault.check()
    if "pause" in options.faults and options.down_after_ms / 1000 + ELECTION_S > PAUSE_MAX_S:
        raise HarnessError(f"--down-after-ms {options.down_after_ms}: a pause must outlast it and the election "
                           f"(about {ELECTION_S:g} s more) in at most {PAUSE_MAX_S:g} s, under the clients' request "
                           f"timeout ({options.workload.op_timeout_s:g} s): at most "
                           f"{int((PAUSE_MAX_S - ELECTION_S) * 1000)} ms with the pause fault")
    if options.workload.op_timeout_s <= PAUSE_MAX_S:
        raise HarnessError(f"the load's request timeout ({options.workload.op_timeout_s:g} s) must be longer than "
                           f"a pause ({PAUSE_MAX_S:g} s)")
    if options.port:
        for offset in range(options.replicas + 1 + SENTINELS):
            ensure_port_free(options.port + offset)
    return options
