"""Reading back, after the restart, every session the server holds: value and absolute expiry.

The whole dataset, not only the keys the history touched: `SCAN` over `session:*` finds every
session that came back, so a session no write created is seen too (the checker calls it a
phantom). Keys the history touched that the scan did not return are absent. Each present key
carries the time its batch was read; absent ones the end of the readback (a key whose TTL
passed during the readback is then absent for a reason the checker can see).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pandas as pd
import redis

from harness.workload.expiry import has_pexpiretime, values_and_expiries
from harness.workload.session import AFTER_PREFIX, SESSION_PREFIX, value_hash

SCAN_COUNT = 2000
NO_EXPIRY = -1
EXPIRY_READ_SLACK_MS = 1.0  # without PEXPIRETIME: the server's clock may tick between PTTL and TIME
PHANTOM_KEY_BASE = -(2**62)  # a session name that is not a number gets a key id below every real one


def _session_id(name: bytes, phantom_ids: dict[bytes, int]) -> int | None:
    """The id in `session:<id>`; None for the after-fault sessions (not checked); a made-up negative
    id for any other name (it can only be a phantom)."""
    if name.startswith(AFTER_PREFIX):
        return None
    tail = name[len(SESSION_PREFIX):]
    if tail.isdigit():
        return int(tail)
    return phantom_ids.setdefault(name, PHANTOM_KEY_BASE - len(phantom_ids))


def _scan_batches(client: redis.Redis):
    cursor = 0
    while True:
        cursor, names = client.scan(cursor, match=SESSION_PREFIX + b"*", count=SCAN_COUNT)
        if names:
            yield names
        if cursor == 0:
            return


# One batch in one command: GET and PEXPIRETIME of every name, read by the server at one moment.
# (Two commands per key through redis-py cost about 5 s per 100,000 sessions in pack and parse; this
# about a tenth of that.) A missing key's GET is false in Lua, nil in the reply.
READ_BATCH = """
local out = {}
for i, name in ipairs(KEYS) do
  out[2 * i - 1] = redis.call('GET', name)
  out[2 * i] = redis.call('PEXPIRETIME', name)
end
return out
"""


def _read(client: redis.Redis, names: list[bytes], exact: bool) -> list[tuple]:
    """(value or None, absolute expiry ms) per name: PEXPIRETIME where the server has it, else the
    server's clock and PTTL (harness.workload.expiry: up to a millisecond early)."""
    if not exact:
        return values_and_expiries(client, names)
    replies = client.register_script(READ_BATCH)(keys=names)
    return list(zip(replies[0::2], replies[1::2]))


def read_survivors(client: redis.Redis, keys: Iterable[int]) -> tuple[pd.DataFrame, int]:
    """Every session present (by SCAN) and every key in `keys`; returns (survivors, end of the
    readback in ms). PEXPIRETIME (Redis 7.0+, Valkey) gives the absolute expiry the server holds,
    which is what the AOF and RDB store; older servers give it to within a millisecond, which the
    frame says (`expire_slack_ms`) so the checker widens its window by as much."""
    present = _Present()
    phantom_ids: dict[bytes, int] = {}
    exact = has_pexpiretime(client)
    for names in _scan_batches(client):
        read_at_ms = time.time_ns() / 1e6
        for name, (value, expire_at) in zip(names, _read(client, names, exact)):
            key = _session_id(name, phantom_ids)
            # Gone between the scan and the read, or expired between its GET and its PEXPIRETIME
            # (-2: no such key): absent.
            if key is not None and value is not None and expire_at != -2:
                present.add(key, value_hash(value), int(expire_at) if expire_at >= 0 else NO_EXPIRY, read_at_ms)
    end_ms = time.time_ns() // 1_000_000
    return present.frame(_unique(keys), end_ms, EXPIRY_READ_SLACK_MS if not exact else 0.0), end_ms


def _unique(keys: Iterable[int]) -> np.ndarray:
    """The keys sorted, once each (pandas' hash table: numpy's unique is slower on a million keys)."""
    array = keys if isinstance(keys, np.ndarray) else np.fromiter(keys, dtype=np.int64)
    return np.sort(pd.unique(array.astype(np.int64)))


class _Present:
    """The sessions the scan found, as columns (a key is seen once: SCAN may return it twice)."""

    def __init__(self) -> None:
        self.key: list[int] = []
        self.value_hash: list[int] = []
        self.expire_at_ms: list[int] = []
        self.read_at_ms: list[float] = []

    def add(self, key: int, value_hash: int, expire_at_ms: int, read_at_ms: float) -> None:
        self.key.append(key)
        self.value_hash.append(value_hash)
        self.expire_at_ms.append(expire_at_ms)
        self.read_at_ms.append(read_at_ms)

    def frame(self, wanted: np.ndarray, end_ms: int, slack_ms: float) -> pd.DataFrame:
        """One row per key found or wanted, by key: a wanted key not found is absent, read at the end."""
        found = pd.DataFrame({"key": np.array(self.key, dtype=np.int64), "present": True,
                              "value_hash": np.array(self.value_hash, dtype=np.int64),
                              "expire_at_ms": np.array(self.expire_at_ms, dtype=np.int64),
                              "read_at_ms": np.array(self.read_at_ms, dtype=np.float64)})
        found = found.drop_duplicates("key", keep="last")  # the later read of a key SCAN returned twice
        missing = np.setdiff1d(wanted, found["key"].to_numpy(), assume_unique=True)
        absent = pd.DataFrame({"key": missing, "present": False, "value_hash": np.zeros(len(missing), np.int64),
                               "expire_at_ms": np.full(len(missing), NO_EXPIRY, np.int64),
                               "read_at_ms": np.full(len(missing), float(end_ms))})
        frame = pd.concat([found, absent], ignore_index=True).sort_values("key", ignore_index=True)
        frame["present"] = frame["present"].astype(bool)
        frame["expire_slack_ms"] = slack_ms
        return frame
