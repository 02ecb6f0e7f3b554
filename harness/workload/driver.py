"""The load generator: concurrent simulated users against one server, every operation recorded.

It runs its own asyncio loop in a background thread so the trial (in the main thread) can
sleep, kill and restart the server while the load goes on, as a crash in production would
happen under traffic.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

from harness.workload.history import HistoryRecorder
from harness.workload.resp import ConnectionLost, ReplyError, RespConnection
from harness.workload.session import (
    Kind,
    Outcome,
    Phase,
    WorkloadParams,
    after_key,
    login_command,
    logout_command,
    read_command,
    refresh_command,
    session_key,
    session_value,
    value_hash,
)

RECONNECT_PAUSE_S = 0.01
BASELINE_BATCH = 500


def _reply_result(kind: Kind, reply) -> int:
    if kind is Kind.READ:
        return 0 if reply is None else 1
    if kind in (Kind.REFRESH, Kind.LOGOUT):
        return int(reply)
    return -1


class SessionLoad:
    """Owns the recorder; baseline() then start() / begin_after_phase() / stop()."""

    def __init__(self, host: str, port: int, params: WorkloadParams, seed: int, recorder: HistoryRecorder) -> None:
        self.host = host
        self.port = port
        self.params = params
        self.seed = seed
        self.recorder = recorder
        self._phase = Phase.LOAD
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._writes = 0  # makes every written value unique within the trial

    # -- baseline ---------------------------------------------------------------------------
    def baseline(self) -> int:
        """Log in `baseline_sessions` users before the load; returns how many were acknowledged."""
        return asyncio.run(self._baseline())

    async def _baseline(self) -> int:
        params = self.params
        rng = random.Random(self.seed ^ 0xBA5E)
        ids = rng.sample(range(params.keyspace), params.baseline_sessions)
        conn = await RespConnection.open(self.host, self.port, timeout_s=5)
        acked = 0
        ttl_ms = params.ttl_s * 1000
        try:
            for first in range(0, len(ids), BASELINE_BATCH):
                batch = ids[first:first + BASELINE_BATCH]
                now_ms = time.time_ns() // 1_000_000
                values = [session_value(rng, i, f"b{i}", now_ms, params.value_bytes) for i in batch]
                start = time.time_ns()
                futures = [conn.send(login_command(session_key(i), v, params.ttl_s)) for i, v in zip(batch, values)]
                replies = await asyncio.gather(*futures, return_exceptions=True)
                end = time.time_ns()
                for i, value, reply in zip(batch, values, replies):
                    outcome = Outcome.OK if reply == b"OK" else (
                        Outcome.FAIL if isinstance(reply, ReplyError) else Outcome.UNKNOWN)
                    acked += outcome is Outcome.OK
                    self.recorder.record(Phase.BASELINE, i % params.concurrency, Kind.LOGIN, i, start, end, outcome,
                                         value_hash(value), ttl_ms, -1, str(reply) if outcome else "")
        finally:
            conn.close()
        return acked

    # -- load ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._thread_main, name="session-load", daemon=True)
        self._thread.start()

    def begin_after_phase(self) -> None:
        """From now on, workers touch only new `session:after:*` keys (set just before a fault),
        so what they do after the restart cannot change the sessions being checked."""
        self._phase = Phase.AFTER

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError("the load generator did not stop")
            self._thread = None
        if self._error is not None:
            raise self._error

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._run_workers())
        except BaseException as exc:  # surfaced to the trial by stop()
            self._error = exc

    async def _run_workers(self) -> None:
        await asyncio.gather(*(self._worker(w) for w in range(self.params.concurrency)))

    async def _worker(self, worker: int) -> None:
        params = self.params
        rng = random.Random(self.seed * 7919 + worker)
        kinds = list(Kind)
        weights = params.mix.weights()
        owned = params.keyspace // params.concurrency + (worker < params.keyspace % params.concurrency)
        stride = params.concurrency
        ttl_s, ttl_ms, timeout_s = params.ttl_s, params.ttl_s * 1000, params.op_timeout_s
        record = self.recorder.record
        after_counter = 0
        conn: RespConnection | None = None
        while not self._stopping:
            if conn is None or conn.closed:
                try:
                    conn = await RespConnection.open(self.host, self.port, timeout_s=1.0)
                except (OSError, TimeoutError):
                    conn = None
                    await asyncio.sleep(RECONNECT_PAUSE_S)
                    continue
            phase = self._phase
            if phase is Phase.LOAD:
                sid = worker + stride * rng.randrange(owned)
                key = session_key(sid)
            else:
                sid = worker + stride * after_counter
                after_counter += 1
                key = after_key(sid)
            # After a fault only new users arrive and log in: that is what the outage denies them.
            kind = rng.choices(kinds, weights)[0] if phase is Phase.LOAD else Kind.LOGIN
            vhash, op_ttl = 0, 0
            if kind is Kind.LOGIN:
                self._writes += 1
                value = session_value(rng, sid, f"{worker}-{self._writes}", time.time_ns() // 1_000_000,
                                      params.value_bytes)
                vhash, op_ttl = value_hash(value), ttl_ms
                payload = login_command(key, value, ttl_s)
            elif kind is Kind.READ:
                payload = read_command(key)
            elif kind is Kind.REFRESH:
                op_ttl = ttl_ms
                payload = refresh_command(key, ttl_s)
            else:
                payload = logout_command(key)
            start = time.time_ns()
            error = ""
            result = -1
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await conn.call(payload)
                if isinstance(reply, ReplyError):
                    outcome, error = Outcome.FAIL, str(reply)[:80]
                else:
                    outcome, result = Outcome.OK, _reply_result(kind, reply)
            except (ConnectionLost, OSError, TimeoutError) as exc:
                # The request was handed to the socket: it may or may not have happened.
                outcome, error = Outcome.UNKNOWN, type(exc).__name__
                conn.close()
                conn = None
            end = time.time_ns()
            record(phase, worker, kind, sid, start, end, outcome, vhash, op_ttl, result, error)
        if conn is not None:
            conn.close()
