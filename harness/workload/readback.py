"""Reading back, after the restart, every session the history touched: value and absolute expiry."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pandas as pd
import redis

from harness.workload.expiry import has_pexpiretime, values_and_expiries
from harness.workload.session import session_key, value_hash

READBACK_BATCH = 2000
NO_EXPIRY = -1


def read_survivors(client: redis.Redis, keys: Iterable[int]) -> tuple[pd.DataFrame, int]:
    """GET and PEXPIRETIME for each session id; returns (survivors, read time in ms).

    PEXPIRETIME (Redis 7.0+, Valkey) gives the absolute expiry the server holds, which is what
    the AOF and RDB store; the checker compares it with what each login or refresh asked for.
    Older servers get the same figure from TIME and PTTL (harness.workload.expiry).
    """
    keys = sorted(set(int(k) for k in keys))
    present, hashes, expiries = [], [], []
    read_at_ms = time.time_ns() // 1_000_000
    exact = has_pexpiretime(client)
    for first in range(0, len(keys), READBACK_BATCH):
        names = [session_key(key) for key in keys[first:first + READBACK_BATCH]]
        for value, expire_at in _read_batch(client, names, exact):
            present.append(value is not None)
            hashes.append(value_hash(value) if value is not None else 0)
            expiries.append(int(expire_at) if value is not None and expire_at >= 0 else NO_EXPIRY)
    frame = pd.DataFrame({
        "key": pd.array(keys, dtype="int64"),
        "present": pd.array(present, dtype="bool"),
        "value_hash": pd.array(hashes, dtype="int64"),
        "expire_at_ms": pd.array(expiries, dtype="int64"),
    })
    return frame, read_at_ms


def _read_batch(client: redis.Redis, names: list[bytes], exact: bool) -> list[tuple[bytes | None, int]]:
    if not exact:
        return values_and_expiries(client, names)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
        pipe.execute_command("PEXPIRETIME", name)
    replies = pipe.execute()
    return list(zip(replies[0::2], replies[1::2]))
