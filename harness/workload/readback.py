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
    found: dict[int, tuple] = {}
    phantom_ids: dict[bytes, int] = {}
    exact = has_pexpiretime(client)
    for names in _scan_batches(client):
        read_at_ms = time.time_ns() / 1e6
        for name, (value, expire_at) in zip(names, _read(client, names, exact)):
            key = _session_id(name, phantom_ids)
            # Gone between the scan and the read, or expired between its GET and its PEXPIRETIME
            # (-2: no such key): absent.
            if key is not None and value is not None and expire_at != -2:
                found[key] = (value_hash(value), int(expire_at) if expire_at >= 0 else NO_EXPIRY, read_at_ms)
    end_ms = time.time_ns() // 1_000_000
    every = sorted(set(int(k) for k in keys) | set(found))
    rows = [(k, *found[k]) if k in found else (k, 0, NO_EXPIRY, float(end_ms)) for k in every]
    frame = pd.DataFrame({
        "key": pd.array([r[0] for r in rows], dtype="int64"),
        "present": pd.array([r[0] in found for r in rows], dtype="bool"),
        "value_hash": pd.array([r[1] for r in rows], dtype="int64"),
        "expire_at_ms": pd.array([r[2] for r in rows], dtype="int64"),
        "read_at_ms": pd.array([r[3] for r in rows], dtype="float64"),
        "expire_slack_ms": 0.0 if exact else EXPIRY_READ_SLACK_MS,
    })
    return frame, end_ms
