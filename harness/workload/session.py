"""The session-store workload: what a login, read, refresh and logout send, and how often.

A user's session is handled by one request at a time, so each worker owns the sessions whose
id is congruent to its number: the history of every key is sequential, which keeps the
checker exact.
"""

from __future__ import annotations

import base64
import json
import random
import time
from dataclasses import asdict, dataclass, field
from enum import IntEnum

import xxhash

from harness.errors import HarnessError
from harness.workload.resp import encode


MAX_CONCURRENCY = 4096  # clients: session ids carry the client number in 12 bits


class Kind(IntEnum):
    LOGIN = 0  # SET session:<id> <json> EX <ttl>
    READ = 1  # GET session:<id>
    REFRESH = 2  # EXPIRE session:<id> <ttl>
    LOGOUT = 3  # DEL session:<id>


class Outcome(IntEnum):
    OK = 0  # the server acknowledged it
    FAIL = 1  # the server refused it with an error reply: it did not happen
    UNKNOWN = 2  # sent, but no reply (timeout, connection dropped): it may or may not have happened


class Phase(IntEnum):
    BASELINE = 0  # the population written (and persisted) before the load
    LOAD = 1  # the measured load, up to the fault
    AFTER = 2  # after the fault: new sessions only (other keys), to see the outage from a client
    # After the fault in a failover: new sessions only, on checked keys, since the old primary and
    # the new one may both acknowledge them (and the old one's may be dropped when it is demoted).
    FAILOVER = 3


@dataclass(frozen=True)
class Mix:
    """Relative weights of the four operations (they need not sum to 1)."""

    login: float = 0.25
    read: float = 0.55
    refresh: float = 0.15
    logout: float = 0.05

    def weights(self) -> list[float]:
        return [self.login, self.read, self.refresh, self.logout]

    @classmethod
    def parse(cls, text: str) -> "Mix":
        """'login=25,read=55,refresh=15,logout=5' -> Mix."""
        values = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, weight = part.partition("=")
            if name not in cls.__dataclass_fields__:
                raise HarnessError(f"--mix: unknown operation {name!r} (login, read, refresh, logout)")
            try:
                values[name] = float(weight)
            except ValueError:
                raise HarnessError(f"--mix: {part!r} is not name=weight") from None
        mix = cls(**{name: values.get(name, 0.0) for name in cls.__dataclass_fields__})
        if sum(mix.weights()) <= 0 or min(mix.weights()) < 0:
            raise HarnessError("--mix: weights must be non-negative and not all zero")
        return mix


@dataclass(frozen=True)
class WorkloadParams:
    concurrency: int = 50  # simultaneous clients (simulated users with a request in flight)
    connections: int = 8  # TCP connections the clients share (their requests are pipelined)
    users: int = 20_000  # distinct users; each login makes a new session id (never reused)
    baseline_sessions: int = 5_000  # sessions present (and persisted) before the load
    ttl_s: int = 1800  # login and refresh TTL: 30 minutes, a common web default
    value_bytes: int = 300  # size of the JSON session value
    op_timeout_s: float = 5.0  # no reply within this: the outcome is unknown
    rate_ops_s: float = 0.0  # offered load in ops/s, spread over the clients; 0: as fast as it goes
    mix: Mix = field(default_factory=Mix)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise HarnessError("concurrency must be at least 1")
        if self.connections < 1:
            raise HarnessError("connections must be at least 1")
        if self.concurrency > MAX_CONCURRENCY:
            raise HarnessError(f"concurrency {self.concurrency} is more than session ids hold ({MAX_CONCURRENCY})")
        if self.users < self.concurrency:
            raise HarnessError(f"users ({self.users}) must be at least the concurrency ({self.concurrency})")
        if not 0 <= self.baseline_sessions <= self.users:
            raise HarnessError(f"baseline sessions ({self.baseline_sessions}) must be between 0 and the users "
                               f"({self.users}): one session per user")
        if self.ttl_s < 1:
            raise HarnessError("ttl must be at least 1 second")
        if self.rate_ops_s < 0:
            raise HarnessError("--rate must be positive (or 0: as fast as it goes)")

    def as_dict(self) -> dict:
        return asdict(self)


SESSION_PREFIX = b"session:"
AFTER_PREFIX = b"session:after:"  # sessions made after the fault: never checked


def session_key(session_id: int) -> bytes:
    return b"session:%d" % session_id


def after_key(session_id: int) -> bytes:
    return b"session:after:%d" % session_id


def value_hash(value: bytes) -> int:
    """A 63-bit fingerprint of a value, so histories need not keep the values themselves. xxh3:
    it runs for every login and every read that hits under load (about 0.1 us for 300 bytes,
    a tenth of blake2b), and it only has to tell one key's few values apart."""
    return xxhash.xxh3_64_intdigest(value) >> 1


_USER_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1)",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"]


def session_value(rng: random.Random, session_id: int, write_tag: str, now_ms: int, size: int) -> bytes:
    """A JSON session document of about `size` bytes; `write_tag` makes every write unique."""
    doc = {
        "sid": session_id,
        "uid": rng.randrange(1_000_000),
        "w": write_tag,
        "iat": now_ms,
        "roles": ["user"] if rng.random() < 0.95 else ["user", "admin"],
        "csrf": "%032x" % rng.getrandbits(128),
        "ua": rng.choice(_USER_AGENTS),
        "pad": "",
    }
    body = json.dumps(doc, separators=(",", ":"))
    pad = max(0, size - len(body))
    doc["pad"] = "x" * pad
    return json.dumps(doc, separators=(",", ":")).encode()


class SessionValues:
    """Session documents from a per-client template: the same shape as session_value, but one
    %-format per login instead of a JSON encode, since this runs for every login under load."""

    def __init__(self, rng: random.Random, size: int, client: int, random_pad: bool = False) -> None:
        self.rng = rng
        self.client = client
        self.count = 0
        self.template = (
            '{"sid":%d,"uid":%d,"w":"' + str(client) + '-%d","iat":%d,"roles":["user"],"csrf":"%032x","ua":'
            + json.dumps(rng.choice(_USER_AGENTS)) + ',"pad":"%s"}'
        ).encode()
        typical = self.template % (10**6, 10**5, 10**4, 10**12, 0, b"")
        length = max(0, size - len(typical))
        # A run of "x" costs nothing where values are compressed (an RDB file, an RDB-preamble AOF:
        # LZF all but erases it); random base64url characters do not compress, like a real
        # session's extra fields, when the bytes on disk are what is measured.
        self.pad = base64.urlsafe_b64encode(rng.randbytes(length))[:length] if random_pad else b"x" * length

    def next(self, session_id: int) -> bytes:
        self.count += 1
        rng = self.rng
        return self.template % (session_id, rng.randrange(1_000_000), self.count, time.time_ns() // 1_000_000,
                                rng.getrandbits(128), self.pad)


def login_command(key: bytes, value: bytes, ttl_s: int) -> bytes:
    return encode(b"SET", key, value, b"EX", b"%d" % ttl_s)


def read_command(key: bytes) -> bytes:
    return encode(b"GET", key)


def refresh_command(key: bytes, ttl_s: int) -> bytes:
    return encode(b"EXPIRE", key, b"%d" % ttl_s)


def logout_command(key: bytes) -> bytes:
    return encode(b"DEL", key)
