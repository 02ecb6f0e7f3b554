"""The load generator: concurrent simulated users against one server, every operation recorded.

How it is fast enough to measure the server rather than itself (see README, "The load
driver"): simulated users share a few connections, and there is no coroutine per user. A
connection is an asyncio Protocol holding a FIFO of the requests in flight; when replies
arrive, each one completes its request (recorded with its outcome) and that user's next
request is issued on the spot; all requests issued while handling one read leave in a single
write(). So each user still has exactly one request in flight (closed-loop load, as
redis-benchmark's clients), the server sees pipelined batches, and the Python cost per
operation is a reply parse (hiredis, C), a record append and a command encode.

It runs its own event loop in a background thread so the trial (in the main thread) can
sleep, kill and restart the server while the load goes on.

Where the load goes is a route (harness.workload.route): one fixed server, or the primary as the
Sentinels name it, looked up again as a client library would. Every operation records the port of
the server that answered it. With an ack mode (harness.workload.acks), a WAIT or WAITAOF follows
every write on its connection, and the write is acknowledged only when that confirms it.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
import threading
import time
from collections import deque

import hiredis

from harness.workload.acks import AckMode
from harness.workload.history import HistoryRecorder
from harness.workload.resp import ReplyError, RespConnection
from harness.workload.route import FixedRoute
from harness.workload.session import (
    Kind,
    Outcome,
    Phase,
    SessionValues,
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
LOOKUP_PAUSE_S = 0.05  # after a lookup found no primary: the Sentinels are still deciding
SESSION_COUNTER_BITS = 20  # logins per client per trial: a million
BASELINE_BATCH = 500
TIMEOUT_CHECK_S = 0.05

LOGIN, READ, REFRESH, LOGOUT = Kind.LOGIN, Kind.READ, Kind.REFRESH, Kind.LOGOUT
OK, FAIL, UNKNOWN = Outcome.OK, Outcome.FAIL, Outcome.UNKNOWN
ACK = object()  # the inflight entry of the WAIT / WAITAOF that follows a write


def _nothing(*args) -> None:
    return None


class NullRecorder:
    """Records nothing: the benchmark's 'without recording' arm (same call shape, no work)."""

    record = pack = extend = staticmethod(_nothing)

    def error_code(self, error: str) -> int:
        return 0

    def __len__(self) -> int:
        return 0


def _kind_chooser(weights: list[float]):
    """rng.random() -> Kind by cumulative weights (cheaper than random.choices per call)."""
    total = sum(weights)
    bounds = list(itertools.accumulate(w / total for w in weights))
    kinds = list(Kind)

    def choose(u: float) -> Kind:
        return kinds[min(bisect.bisect_right(bounds, u), len(kinds) - 1)]

    return choose


class _User:
    """One simulated client: it acts for the users congruent to its number, one request at a time.

    As an application makes sessions: each login creates a new session id (never reused), reads
    and refreshes go to one of that user's live sessions, a logout deletes one. A user with no
    live session logs in. A session stops being live for the client when it logs out, when a
    read finds it gone or a refresh finds nothing (the application would log the user out), or
    when its TTL passes by the client's clock.
    """

    __slots__ = ("number", "rng", "choose_kind", "values", "users", "live", "expires", "logins",
                 "after_counter", "due_ns", "ttl_ns")

    def __init__(self, number: int, seed: int, params: WorkloadParams) -> None:
        self.number = number
        self.rng = random.Random(seed * 7919 + number)
        self.choose_kind = _kind_chooser(params.mix.weights())
        self.values = SessionValues(self.rng, params.value_bytes, number)
        self.users = list(range(number, params.users, params.concurrency))
        self.live: dict[int, list[int]] = {}  # user -> its live session ids
        self.expires: dict[int, int] = {}  # session id -> when its TTL ends, by the client's clock (ns)
        self.logins = 0
        self.after_counter = 0
        self.due_ns = 0  # rate-limited mode: when this user's next request is scheduled
        self.ttl_ns = params.ttl_s * 1_000_000_000

    def new_session_id(self) -> int:
        """A seeded random id that no other login of this run can have: 30 random bits, then the
        client's number and its login count (so ids are unique by construction)."""
        self.logins += 1
        if self.logins >= 1 << SESSION_COUNTER_BITS:
            raise RuntimeError(f"client {self.number} made {self.logins:,} logins: more than session ids hold")
        return (self.rng.getrandbits(30) << 32) | (self.number << SESSION_COUNTER_BITS) | self.logins

    def live_sessions(self, user: int, now: int) -> list[int]:
        sessions = self.live.get(user)
        if not sessions:
            return []
        if any(self.expires.get(s, 0) <= now for s in sessions):
            sessions[:] = [s for s in sessions if self.expires.get(s, 0) > now]
        return sessions

    def logged_in(self, user: int, sid: int, now: int) -> None:
        self.live.setdefault(user, []).append(sid)
        self.expires[sid] = now + self.ttl_ns

    def gone(self, user: int, sid: int) -> None:
        sessions = self.live.get(user)
        if sessions and sid in sessions:
            sessions.remove(sid)
        self.expires.pop(sid, None)


class _SessionConnection(asyncio.Protocol):
    """A connection carrying the requests of several users, pipelined."""

    def __init__(self, load: "SessionLoad", users: list[_User], server: int = 0) -> None:
        self.load = load
        self.users = users
        self.server = server  # the port of the server this connection reaches (recorded per operation)
        self.parser = hiredis.Reader()
        self.inflight: deque = deque()  # (client, phase, kind, sid, start_ns, value_hash, ttl_ms, user)
        self.outgoing: list[bytes] = []
        self.transport = None
        self.lost = asyncio.get_event_loop().create_future()
        self.leaving = False  # no new requests: the route moved on (READONLY, a new primary)
        self.held: tuple | None = None  # a write's entry and reply, until its WAIT / WAITAOF answers

    # -- issuing -----------------------------------------------------------------------------
    def _issue(self, user: _User, now: int) -> None:
        load = self.load
        params = load.params
        phase = load.phase
        uid = -1
        if phase is Phase.LOAD:
            uid = user.users[user.rng.randrange(len(user.users))]
            kind = user.choose_kind(user.rng.random())
            live = user.live_sessions(uid, now)
            if kind is LOGIN or not live:
                kind, sid = LOGIN, user.new_session_id()
            elif kind is LOGOUT:
                sid = live.pop(user.rng.randrange(len(live)))  # logged out, whatever the reply says
            else:
                sid = live[user.rng.randrange(len(live))]
            key = session_key(sid)
        elif phase is Phase.FAILOVER:
            # New logins on checked keys: either primary may acknowledge them.
            kind, sid = LOGIN, user.new_session_id()
            key = session_key(sid)
        else:
            # After a fault only new users arrive and log in: that is what the outage denies them.
            sid = user.number + params.concurrency * user.after_counter
            user.after_counter += 1
            key = after_key(sid)
            kind = LOGIN
        vhash = ttl_ms = 0
        if kind is LOGIN:
            value = user.values.next(sid)
            vhash, ttl_ms = value_hash(value), load.ttl_ms
            payload = login_command(key, value, params.ttl_s)
        elif kind is READ:
            payload = read_command(key)
        elif kind is REFRESH:
            ttl_ms = load.ttl_ms
            payload = refresh_command(key, params.ttl_s)
        else:
            payload = logout_command(key)
        self.outgoing.append(payload)
        self.inflight.append((user, phase, kind, sid, now, vhash, ttl_ms, uid))
        if load.ack_command is not None and kind is not READ:
            self.outgoing.append(load.ack_command)
            self.inflight.append(ACK)

    def _flush(self) -> None:
        if self.outgoing:
            self.transport.write(b"".join(self.outgoing))
            self.outgoing.clear()

    # -- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        if self.load.stopping or self.leaving:
            return
        now = time.time_ns()
        interval = self.load.interval_ns
        if not interval:
            for user in self.users:
                self._issue(user, now)
            self._flush()
            return
        # Rate-limited: spread the users' first requests over one interval, so the offered load
        # is smooth from the start rather than a burst every interval.
        for user in self.users:
            user.due_ns = now + interval * user.number // self.load.params.concurrency
            self._schedule(user, now)

    # -- rate-limited mode ------------------------------------------------------------------------
    def _schedule(self, user: _User, now: int) -> None:
        """Issue the user's next request at its due time (at once if it is already late)."""
        if user.due_ns <= now:
            self._issue_due(user)
        else:
            loop = asyncio.get_event_loop()
            loop.call_at(loop.time() + (user.due_ns - now) / 1e9, self._issue_due, user)

    def _issue_due(self, user: _User) -> None:
        if self.load.stopping or self.leaving or self.transport is None or self.transport.is_closing():
            return
        # The request's start is when it was due, not when it could be sent: a server that falls
        # behind the offered rate shows it in latency (no coordinated omission, as wrk2 measures).
        self._issue(user, user.due_ns)
        user.due_ns += self.load.interval_ns
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        now = time.time_ns()
        load = self.load
        recorder = load.recorder
        pack, extend = recorder.pack, recorder.extend
        server = self.server
        acking = load.ack_command is not None
        done = load.stopping or self.leaving  # issue no next request on this connection
        interval = load.interval_ns
        inflight = self.inflight
        replies = 0
        while True:
            reply = self.parser.gets()
            if reply is False:
                break
            replies += 1
            entry = inflight.popleft()
            if acking:
                if entry is ACK:  # the WAIT / WAITAOF of the write held back
                    entry, reply = self._confirm(reply, now)
                    if reply is None:  # applied, not confirmed: recorded as unknown
                        if not done:
                            self._next(entry[0], now, interval)
                        continue
                elif inflight and inflight[0] is ACK:
                    self.held = (entry, reply)
                    continue
            user, phase, kind, sid, start, vhash, ttl_ms, uid = entry
            if type(reply) is ReplyError:
                error = str(reply)[:80]
                extend(pack(phase, user.number, kind, sid, start, now, FAIL, vhash, ttl_ms, -1,
                            recorder.error_code(error), server))
                if load.route.follows_readonly and error.startswith("READONLY"):
                    # The old primary was demoted: give the connection up, look the primary up again.
                    self.leaving = done = True
            else:
                if kind is READ:
                    # The value read is evidence for the checker: its fingerprint, like a login's.
                    result, vhash = (0, 0) if reply is None else (1, value_hash(reply))
                    if reply is None and uid >= 0:
                        user.gone(uid, sid)
                elif kind is LOGIN:
                    result = -1
                    if uid >= 0:
                        user.logged_in(uid, sid, now)
                else:
                    result = reply
                    if kind is REFRESH and uid >= 0:
                        if reply == 1:
                            user.expires[sid] = now + user.ttl_ns
                        else:
                            user.gone(uid, sid)
                extend(pack(phase, user.number, kind, sid, start, now, OK, vhash, ttl_ms, result, 0, server))
            if not done:
                self._next(user, now, interval)
        load.replies += replies
        self._flush()
        if done and not inflight:
            self.transport.close()

    def _next(self, user: _User, now: int, interval: int) -> None:
        if interval:
            self._schedule(user, now)
        else:
            self._issue(user, now)

    def _confirm(self, ack_reply, now: int) -> tuple[tuple, object]:
        """The held write and its reply, once its WAIT / WAITAOF answered: the write's own reply when
        it failed or is confirmed; None when the write was applied but not confirmed (recorded here
        as unknown: a timed-out WAIT does not undo it)."""
        entry, reply = self.held
        self.held = None
        if type(reply) is ReplyError:
            return entry, reply
        reason = self.load.acks.unconfirmed(ack_reply)
        if reason is None:
            return entry, reply
        user, phase, kind, sid, start, vhash, ttl_ms, _ = entry
        self.load.recorder.record(phase, user.number, kind, sid, start, now, UNKNOWN, vhash, ttl_ms, -1, reason,
                                  self.server)
        return entry, None

    def connection_lost(self, exc) -> None:
        self.fail_inflight(type(exc).__name__ if exc else "ConnectionLost")
        if not self.lost.done():
            self.lost.set_result(None)

    def fail_inflight(self, error: str) -> None:
        """Requests that got no reply may or may not have happened: unknown, never failed."""
        now = time.time_ns()
        record = self.load.recorder.record
        if self.held is not None:  # a write whose reply came, but not its WAIT's
            self.inflight.appendleft(self.held[0])
            self.held = None
        while self.inflight:
            entry = self.inflight.popleft()
            if entry is ACK:
                continue
            user, phase, kind, sid, start, vhash, ttl_ms, _ = entry
            record(phase, user.number, kind, sid, start, now, UNKNOWN, vhash, ttl_ms, -1, error, self.server)

    def overdue(self, now: int, timeout_ns: int) -> bool:
        first = self.held[0] if self.held is not None else (self.inflight[0] if self.inflight else None)
        return first is not None and first is not ACK and now - first[4] > timeout_ns


class SessionLoad:
    """Owns the recorder; baseline() then start() / begin_after_phase() / stop().

    `route` says where the load goes (default: host:port, fixed); `acks` what acknowledges a write
    (default: its reply). The baseline always goes to host:port (the primary at the start)."""

    def __init__(self, host: str, port: int, params: WorkloadParams, seed: int, recorder: HistoryRecorder,
                 route=None, acks: AckMode | None = None) -> None:
        self.host = host
        self.port = port
        self.route = route or FixedRoute(host, port)
        self.acks = acks or AckMode()
        self.ack_command = self.acks.command  # None: the reply is the ack (the hot path checks this)
        self.refused_connects = 0
        self._connections: set[_SessionConnection] = set()
        self.params = params
        self.seed = seed
        self.recorder = recorder
        self.ttl_ms = params.ttl_s * 1000
        # Rate-limited mode: each user sends every interval (offered load = concurrency / interval).
        self.interval_ns = int(params.concurrency * 1e9 / params.rate_ops_s) if params.rate_ops_s else 0
        self.phase = Phase.LOAD
        self.stopping = False
        self.replies = 0  # replies received so far (the benchmark's counter)
        # The simulated clients, made here: the baseline logs their users in before the load runs.
        self.clients = [_User(n, seed, params) for n in range(params.concurrency)]
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- baseline ---------------------------------------------------------------------------
    def baseline(self) -> int:
        """Log in `baseline_sessions` users before the load; returns how many were acknowledged."""
        return asyncio.run(self._baseline())

    async def _baseline(self) -> int:
        params = self.params
        rng = random.Random(self.seed ^ 0xBA5E)
        users = rng.sample(range(params.users), params.baseline_sessions)
        conn = await RespConnection.open(self.host, self.port, timeout_s=5)
        acked = 0
        try:
            for first in range(0, len(users), BASELINE_BATCH):
                batch = [(u, self.clients[u % params.concurrency]) for u in users[first:first + BASELINE_BATCH]]
                sids = [client.new_session_id() for _, client in batch]
                now_ms = time.time_ns() // 1_000_000
                values = [session_value(rng, sid, f"b{sid}", now_ms, params.value_bytes) for sid in sids]
                start = time.time_ns()
                futures = [conn.send(login_command(session_key(sid), v, params.ttl_s)) for sid, v in zip(sids, values)]
                replies = await asyncio.gather(*futures, return_exceptions=True)
                end = time.time_ns()
                for (user, client), sid, value, reply in zip(batch, sids, values, replies):
                    outcome = OK if reply == b"OK" else (FAIL if isinstance(reply, ReplyError) else UNKNOWN)
                    acked += outcome is OK
                    if outcome is OK:
                        client.logged_in(user, sid, end)
                    self.recorder.record(Phase.BASELINE, client.number, LOGIN, sid, start, end, outcome,
                                         value_hash(value), self.ttl_ms, -1, str(reply) if outcome else "", self.port)
        finally:
            conn.close()
        return acked

    # -- load ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._thread_main, name="session-load", daemon=True)
        self._thread.start()

    def begin_after_phase(self, checked: bool = False) -> None:
        """From now on, users touch only new `session:after:*` keys (set once the fault took effect),
        so what they do after the restart cannot change the sessions being checked. `checked`: new
        sessions on checked keys instead (a failover: what either primary acknowledged is judged)."""
        self.phase = Phase.FAILOVER if checked else Phase.AFTER

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stopping = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError("the load generator did not stop")
            self._thread = None
        if self._error is not None:
            raise self._error

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # surfaced to the trial by stop()
            self._error = exc

    async def _run(self) -> None:
        params = self.params
        users = self.clients
        slots = min(params.connections, params.concurrency)
        groups = [users[i::slots] for i in range(slots)]
        await asyncio.gather(self.route.watch(self._moved, lambda: self.stopping),
                             *(self._connection_slot(group) for group in groups))

    def _moved(self, address: tuple[str, int]) -> None:
        """A new primary was announced: connections elsewhere finish what they sent, take no new
        request, and close; their slots connect to the new primary."""
        for conn in list(self._connections):
            if conn.server != address[1] and not conn.leaving:
                conn.leaving = True
                if not conn.inflight and conn.transport is not None:
                    conn.transport.close()

    async def _connection_slot(self, users: list[_User]) -> None:
        """Keep one connection for these users open until stopped, reconnecting after a crash."""
        loop = asyncio.get_running_loop()
        timeout_ns = int(self.params.op_timeout_s * 1e9)
        while not self.stopping:
            address = await self.route.primary()
            if address is None:  # no primary known yet: the Sentinels are still deciding
                await asyncio.sleep(LOOKUP_PAUSE_S)
                continue
            host, port = address
            try:
                async with asyncio.timeout(1.0):
                    _, conn = await loop.create_connection(lambda: _SessionConnection(self, users, port), host, port)
            except (OSError, TimeoutError):
                self.refused_connects += 1
                await asyncio.sleep(RECONNECT_PAUSE_S)  # the server is down: do not spin
                continue
            self._connections.add(conn)
            # Wait for the connection to end; meanwhile watch for requests without a reply.
            while not conn.lost.done():
                await asyncio.wait([conn.lost], timeout=TIMEOUT_CHECK_S)
                if conn.overdue(time.time_ns(), timeout_ns):
                    conn.fail_inflight("TimeoutError")
                    conn.transport.abort()
                elif self.stopping and not conn.inflight:
                    conn.transport.close()
            self._connections.discard(conn)
            if self.stopping:
                return


class _NoTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def isolated_client_cost(params: WorkloadParams, record: bool, batches: int = 20_000) -> float:
    """CPU microseconds per operation of the driver's own work (parse the reply, record it,
    issue the next request), fed canned replies with no server and no socket in between.
    Deterministic enough to show what recording costs, which end-to-end runs drown in noise."""
    load = SessionLoad("127.0.0.1", 1, params, 1, HistoryRecorder() if record else NullRecorder())
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        per_connection = max(1, params.concurrency // params.connections)
        conn = _SessionConnection(load, load.clients[:per_connection])
        conn.connection_made(_NoTransport())
        began = time.process_time()
        for _ in range(batches):
            conn.data_received(b"".join(b"+OK\r\n" if op[2] is LOGIN else b":1\r\n" for op in conn.inflight))
        return (time.process_time() - began) * 1e6 / (batches * per_connection)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
