"""Making the baseline durable as far as the config persists anything, as on a long-running server.

A server that has been up for a while has finished a snapshot (with save points) and an AOF
rewrite (with appendonly). Without this, "lost since the last save" would really mean "lost
since the server started".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import redis

from harness.errors import HarnessError

POLL_S = 0.01


def persistence_settings(client: redis.Redis) -> tuple[bool, bool]:
    """(has RDB save points, has AOF on), as the running server sees its config."""
    save = client.config_get("save").get("save", "")
    appendonly = client.config_get("appendonly").get("appendonly", "no")
    return bool(str(save).strip()), str(appendonly) == "yes"


def _wait_idle(client: redis.Redis, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        info = client.info("persistence")
        busy = info.get("rdb_bgsave_in_progress") or info.get("aof_rewrite_in_progress") or \
            info.get("aof_rewrite_scheduled")
        if not busy:
            return info
        if time.monotonic() > deadline:
            raise HarnessError(f"background save or rewrite still running after {timeout_s:.0f} s")
        time.sleep(POLL_S)


def persist_baseline(client: redis.Redis, timeout_s: float = 120.0) -> list[str]:
    """Run and wait for BGSAVE and/or BGREWRITEAOF as the config calls for; returns what ran."""
    has_rdb, has_aof = persistence_settings(client)
    done = []
    _wait_idle(client, timeout_s)
    if has_rdb:
        client.bgsave()
        info = _wait_idle(client, timeout_s)
        if info.get("rdb_last_bgsave_status") != "ok":
            raise HarnessError("the baseline BGSAVE failed (rdb_last_bgsave_status is not ok); see the server log")
        done.append("bgsave")
    if has_aof:
        client.bgrewriteaof()
        info = _wait_idle(client, timeout_s)
        if info.get("aof_last_bgrewrite_status") != "ok":
            raise HarnessError("the baseline BGREWRITEAOF failed; see the server log")
        done.append("bgrewriteaof")
    return done


def server_state(client: redis.Redis) -> dict:
    """What the server says of its persistence and its errors, in one dict: INFO persistence, stats
    and errorstats (the error replies it sent, by prefix), and its clock (`server_time_usec`)."""
    state: dict = {}
    for section in ("persistence", "stats", "errorstats"):
        state.update(client.info(section))
    state["server_time_usec"] = int(client.info("server").get("server_time_usec", 0))
    # errorstat_MISCONF: {'count': 12} -> 12
    return {k: (v.get("count", 0) if isinstance(v, dict) else v if isinstance(v, (int, float, str)) else str(v))
            for k, v in state.items()}


def persistence_config(client: redis.Redis) -> dict:
    """CONFIG GET of what decides what survives: save points, appendonly, appendfsync, AOF rewrites."""
    found: dict = {}
    for name in ("save", "appendonly", "appendfsync", "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
                 "aof-use-rdb-preamble", "rdbchecksum", "no-appendfsync-on-rewrite"):
        found.update({k: str(v) for k, v in client.config_get(name).items()})
    return found


@dataclass(frozen=True)
class DiskUsage:
    rdb_bytes: int
    aof_base_bytes: int
    aof_incr_bytes: int
    aof_base_format: str
    data_bytes: int


def disk_usage(data_dir: Path) -> DiskUsage:
    """Sizes of the persistence files: dump.rdb, the AOF base and incr files, and everything."""
    rdb = aof_base = aof_incr = total = 0
    base_format = ""
    for path in (p for p in data_dir.rglob("*") if p.is_file()):
        size, name = path.stat().st_size, path.name
        total += size
        if path.parent == data_dir and name.endswith(".rdb"):
            rdb += size
        elif path.parent.name == "appendonlydir" and ".base." in name:
            aof_base += size
            base_format = "rdb" if name.endswith(".rdb") else "aof"
        elif path.parent.name == "appendonlydir" and name.endswith(".incr.aof"):
            aof_incr += size
    return DiskUsage(rdb, aof_base, aof_incr, base_format, total)
