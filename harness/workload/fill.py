"""The fill workload: N sessions written as fast as the server takes them, and nothing else.

`SET session:<id> <~300-byte JSON> EX <ttl>` for ids 0..N-1, pipelined over a few
connections: each sends a batch, then waits for its replies, so at most connections x batch
requests are in flight. Values are made a batch at a time and never kept, so the harness's
memory stays flat whatever N is (the recovery curve measures servers holding millions).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.server.base import Server
from harness.workload.resp import ConnectionLost, RespConnection
from harness.workload.session import SessionValues, WorkloadParams, login_command, session_key

CONNECTIONS = 2  # pipelines at once: the server works on one batch while Python builds the next
BATCH = 1000  # commands per pipeline round trip


@dataclass(frozen=True)
class Fill:
    """One fill: what is written, and how much may be in flight (connections x batch requests)."""

    sessions: int
    value_bytes: int = WorkloadParams.value_bytes
    ttl_s: int = WorkloadParams.ttl_s
    seed: int = 0  # seeds each connection's values: the same seed, the same kind of data for every config
    connections: int = CONNECTIONS
    batch: int = BATCH


def session_values(seed: int, value_bytes: int, writer: int) -> SessionValues:
    """The crash matrix's session documents, padded with random characters (see SessionValues):
    the files on disk are what the fill is for, and a pad of "x" would compress away in RDB."""
    return SessionValues(random.Random(seed * 1009 + writer), value_bytes, writer, random_pad=True)


async def _writer(host: str, port: int, job: Fill, number: int, ids: Iterator[tuple[int, int]]) -> None:
    """One connection: take the next batch of ids, send it, wait for every reply, repeat."""
    values = session_values(job.seed, job.value_bytes, number)
    conn = await RespConnection.open(host, port, timeout_s=5.0)
    waiters: list[asyncio.Future] = []
    try:
        for first, last in ids:
            waiters = [conn.send(login_command(session_key(i), values.next(i), job.ttl_s))
                       for i in range(first, last)]
            await waiters[-1]  # replies come in order: the last one done means all are
            for waiter in waiters:
                reply = waiter.result()
                if reply != b"OK":
                    raise HarnessError(f"the server refused a session write while filling: {reply!r}")
    finally:
        for waiter in waiters:  # interrupted or broken: nobody will read these replies
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # retrieved: no "exception was never retrieved" per request
        conn.close()


async def fill_async(host: str, port: int, job: Fill) -> None:
    # One generator of (first, last) batches shared by the writers: whoever is free takes the next
    # (they run on one event loop, so no two take the same batch).
    batches = ((first, min(first + job.batch, job.sessions)) for first in range(0, job.sessions, job.batch))
    connections = min(job.connections, max(1, job.sessions // job.batch + 1))
    await asyncio.gather(*(_writer(host, port, job, n, batches) for n in range(connections)))


def fill(server: Server, sessions: int, value_bytes: int = WorkloadParams.value_bytes,
         ttl_s: int = WorkloadParams.ttl_s, seed: int = 0, connections: int = CONNECTIONS, batch: int = BATCH) -> float:
    """Write `sessions` sessions; returns the seconds it took (every write acknowledged)."""
    job = Fill(sessions, value_bytes, ttl_s, seed, connections, batch)
    began = time.perf_counter()
    try:
        asyncio.run(fill_async(server.host, server.port, job))
    except (ConnectionLost, OSError, TimeoutError) as exc:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if not server.is_running():
            what = f"the server exited ({what}); its log: {server.spec.log_path}"
        raise HarnessError(f"filling server {server.spec.name} failed: {what}") from None
    return time.perf_counter() - began
