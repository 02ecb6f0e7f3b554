"""The other data: a cache in the same server as the sessions, growing until memory is full.

Session stores rarely have a server to themselves; what else is in it decides what an eviction
policy takes. This load writes `SET cache:<n> <value> [EX ttl]` with ever new keys, at a fixed
offered rate (pipelined batches on one connection, each batch due on a schedule), so memory
fills at a known pace and keeps being pushed once full. Its keys never look like sessions
(`session:*` is what the readback scans). It counts what the server did with each write:
acknowledged, refused with `-OOM` (noeviction, or a volatile policy with nothing left to evict),
refused otherwise, or no reply. It stops for good when its connection breaks (a crash): after a
restart only the session load comes back.

It runs its own event loop in a background thread, beside the session load's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, dataclass

from harness.errors import HarnessError
from harness.workload.resp import ConnectionLost, ReplyError, RespConnection, encode

OTHER_PREFIX = b"cache:"
VARIANTS = ("no-ttl", "ttl")  # the other data's keys carry no TTL, or every one carries one


@dataclass(frozen=True)
class OtherData:
    """What the other data is and how fast it comes (the eviction scenario's parameters)."""

    ttl_s: int = 0  # 0: no TTL (variant no-ttl); else every key's TTL (variant ttl)
    value_bytes: int = 1000  # a cached page fragment or API response
    rate_ops_s: float = 10_000.0  # writes offered per second: 10 MB/s at 1000 bytes
    batch: int = 100  # writes per pipelined round trip

    def __post_init__(self) -> None:
        if self.ttl_s < 0:
            raise HarnessError("--other-ttl must be positive (or 0: no TTL)")
        if self.value_bytes < 1:
            raise HarnessError("--other-bytes must be at least 1")
        if self.rate_ops_s <= 0:
            raise HarnessError("--other-rate must be positive")
        if self.batch < 1:
            raise HarnessError("the other data's batch must be at least 1")

    @property
    def variant(self) -> str:
        return "ttl" if self.ttl_s else "no-ttl"

    def command(self, number: int, value: bytes) -> bytes:
        key = OTHER_PREFIX + b"%d" % number
        if self.ttl_s:
            return encode(b"SET", key, value, b"EX", b"%d" % self.ttl_s)
        return encode(b"SET", key, value)


@dataclass
class OtherCounts:
    """What became of the other data's writes."""

    writes: int = 0  # acknowledged
    refused_oom: int = 0  # -OOM command not allowed when used memory > 'maxmemory'
    refused_other: int = 0  # any other error reply
    unknown: int = 0  # sent, no reply (the connection broke)
    first_refused_ns: int = 0  # when the first -OOM came back (0: never)
    started_ns: int = 0
    stopped_ns: int = 0
    ended_by: str = ""  # "" when asked to stop; else why it stopped (the connection broke)

    def as_dict(self) -> dict:
        return asdict(self)


def _tally(counts: OtherCounts, reply: object, now_ns: int) -> None:
    if type(reply) is ReplyError:
        if str(reply).startswith("OOM"):
            counts.refused_oom += 1
            counts.first_refused_ns = counts.first_refused_ns or now_ns
        else:
            counts.refused_other += 1
    else:
        counts.writes += 1


class OtherLoad:
    """start() / stop(); `counts` is safe to read once stopped."""

    def __init__(self, host: str, port: int, data: OtherData) -> None:
        self.host, self.port, self.data = host, port, data
        self.counts = OtherCounts()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="other-data", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> OtherCounts:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError("the other-data load did not stop")
            self._thread = None
        if self._error is not None:
            raise self._error
        return self.counts

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # surfaced by stop()
            self._error = exc

    async def _run(self) -> None:
        data, counts = self.data, self.counts
        value = b"c" * data.value_bytes  # the content is irrelevant to memory; its size is not
        interval_s = data.batch / data.rate_ops_s
        conn = await RespConnection.open(self.host, self.port, timeout_s=5.0)
        counts.started_ns = time.time_ns()
        began, number, batches = time.monotonic(), 0, 0
        try:
            while not self._stopping:
                if conn.closed:  # broke while this load waited for its next batch: nothing of it was sent
                    counts.ended_by = "ConnectionLost: the connection closed between batches"
                    return
                waiters = [conn.send(data.command(number + i, value)) for i in range(data.batch)]
                number += data.batch
                try:
                    await waiters[-1]  # replies come in order: the last one done means all are
                except (ConnectionLost, OSError) as exc:
                    now = time.time_ns()
                    for waiter in waiters:
                        if waiter.done() and waiter.exception() is None:
                            _tally(counts, waiter.result(), now)
                        else:
                            counts.unknown += 1
                    counts.ended_by = f"{type(exc).__name__}: {exc}"
                    return
                now = time.time_ns()
                for waiter in waiters:
                    _tally(counts, waiter.result(), now)
                batches += 1
                await asyncio.sleep(max(0.0, began + batches * interval_s - time.monotonic()))
        finally:
            counts.stopped_ns = time.time_ns()
            conn.close()
