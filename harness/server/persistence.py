"""Making the baseline durable as far as the config persists anything, as on a long-running server.

A server that has been up for a while has finished a snapshot (with save points) and an AOF
rewrite (with appendonly). Without this, "lost since the last save" would really mean "lost
since the server started".
"""

from __future__ import annotations

import time

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
