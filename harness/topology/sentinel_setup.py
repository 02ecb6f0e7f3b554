"""What the harness sets for a primary, its replicas and three Sentinels: options, ports, config text.

The persistence fragment (configs/) applies to every data server unchanged; everything about
replication and Sentinel is the harness's and is written here, on the command line of the data
servers and in each Sentinel's own config file (which the Sentinel rewrites as it learns):

- every data server announces 127.0.0.1 (and, with the partition proxies, its relay's port) and
  starts a full sync at once (`repl-diskless-sync-delay 0`: the 5 s default only batches replicas
  that connect together, and would make every rejoin in a trial 5 s longer);
- `min-replicas-to-write` / `min-replicas-max-lag` on every data server (any may become primary),
  off unless the ack mode asks for it (the server's default: 0);
- three Sentinels, quorum 2, `down-after-milliseconds` and `failover-timeout` as given (the report
  states them next to the production defaults, 30 s and 180 s).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import msgspec

from harness.errors import HarnessError
from harness.server.net import LOOPBACK

SERVICE = "sessions"  # the name the Sentinels monitor the primary under
SENTINELS = 3
QUORUM = 2
PRODUCTION_DOWN_AFTER_MS = 30_000  # Sentinel's default
PRODUCTION_FAILOVER_TIMEOUT_MS = 180_000
# Sentinel's timer runs 10-19 times a second (`server.hz = CONFIG_DEFAULT_HZ + rand() % CONFIG_DEFAULT_HZ`):
# it pings and checks for silence at most that often, so below 100 ms the setting is not what
# Sentinel does. Measured here, 10-200 ms gave no false failover of a healthy primary under the full
# load in 20 s with 1M sessions and forks (BGSAVE, BGREWRITEAOF) back to back, 13-30 ms each: what
# makes a short down-after fail over a healthy primary is a stall longer than it (a fork of a
# larger dataset, a slow fsync), which a deployment, not this harness, decides.
MIN_DOWN_AFTER_MS = 100
MIN_DOWN_AFTER_REASON = ("Sentinel's timer runs 10-19 times a second, so it cannot notice a silence shorter than "
                         "that: below 100 ms the failover would not start when the report says it may, and any "
                         "stall of the primary longer than the setting (a fork, a slow fsync) starts one")


@dataclass(frozen=True)
class SentinelOptions:
    replicas: int = 1
    down_after_ms: int = 1000
    failover_timeout_ms: int = 10_000
    proxied: bool = False  # the partition proxies between every server and the rest
    min_replicas_to_write: int = 0
    min_replicas_max_lag_s: int = 10  # Redis's default

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise HarnessError(f"a Sentinel topology needs at least one replica to promote (replicas {self.replicas})")
        if self.down_after_ms < MIN_DOWN_AFTER_MS:
            raise HarnessError(f"down-after-milliseconds {self.down_after_ms} is too short to be stable (at least "
                               f"{MIN_DOWN_AFTER_MS}): {MIN_DOWN_AFTER_REASON}")
        if self.failover_timeout_ms < self.down_after_ms:
            raise HarnessError(f"failover-timeout {self.failover_timeout_ms} ms must be at least down-after-"
                               f"milliseconds ({self.down_after_ms} ms)")
        if not 0 <= self.min_replicas_to_write <= self.replicas:
            raise HarnessError(f"min-replicas-to-write {self.min_replicas_to_write} must be between 0 and the "
                               f"replicas ({self.replicas})")
        if self.min_replicas_max_lag_s < 1:
            raise HarnessError("min-replicas-max-lag must be at least 1 s")

    @classmethod
    def of(cls, given: dict) -> "SentinelOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise HarnessError(f"sentinel topology: unknown option {', '.join(map(repr, unknown))} "
                               f"(it takes {', '.join(sorted(known))})")
        try:
            typed = msgspec.convert(given, type=cls, strict=False)
        except msgspec.ValidationError as exc:
            raise HarnessError(f"sentinel topology: {exc}") from None
        return cls(**{f.name: getattr(typed, f.name) for f in fields(cls)})


def data_roles(replicas: int) -> list[str]:
    return ["primary", *(f"replica-{n}" for n in range(1, replicas + 1))]


def sentinel_roles() -> list[str]:
    return [f"sentinel-{n}" for n in range(1, SENTINELS + 1)]


def fixed_ports(base: int | None, replicas: int) -> dict[str, int | None]:
    """With a base port: the primary on it, then the replicas, then the Sentinels; else free ports."""
    roles = data_roles(replicas) + sentinel_roles()
    return {role: (base + index if base else None) for index, role in enumerate(roles)}


def data_server_args(options: SentinelOptions, announce_port: int | None,
                     replica_of: int | None) -> tuple[str, ...]:
    """A data server's replication options; `replica_of`: the port it replicates from (as announced)."""
    args = ["--replica-announce-ip", LOOPBACK, "--repl-diskless-sync-delay", "0"]
    if announce_port:
        args += ["--replica-announce-port", str(announce_port)]
    if options.min_replicas_to_write:
        args += ["--min-replicas-to-write", str(options.min_replicas_to_write),
                 "--min-replicas-max-lag", str(options.min_replicas_max_lag_s)]
    if replica_of:
        args += ["--replicaof", LOOPBACK, str(replica_of)]
    return tuple(args)


def sentinel_config(options: SentinelOptions, primary_port: int) -> str:
    """A Sentinel's config file; its port, bind and dir come on the command line, as for any server."""
    return "".join(line + "\n" for line in (
        "# written by crash-matrix for one trial; the Sentinel rewrites it as it learns the topology",
        f"sentinel monitor {SERVICE} {LOOPBACK} {primary_port} {QUORUM}",
        f"sentinel down-after-milliseconds {SERVICE} {options.down_after_ms}",
        f"sentinel failover-timeout {SERVICE} {options.failover_timeout_ms}",
        f"sentinel parallel-syncs {SERVICE} 1",
        f"sentinel announce-ip {LOOPBACK}",
    ))
