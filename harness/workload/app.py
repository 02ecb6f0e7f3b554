"""An application load written the way the session-store advice shows it: redis-py, one client with
its connection pool shared by many threads, `SET session:<id> <json> EX <ttl>` on login, `GET` on
each request, `DEL` on logout.

Unlike the harness's driver (harness.workload.driver), this measures what an application sees,
not what the server did: redis-py may retry a request behind the caller's back, so a reply says
only what the last attempt returned. Each request is recorded with the history's columns (its
kind, session, start and end, `ok`; `fail` for an error reply; `unknown` for a connection error
or a timeout: both *raised*, the user saw an error page), and the application checker
(harness.checkers.application) counts what the users went through. Each thread serves its own
users on a fixed schedule (`rate_per_thread`), so a client that fails fast and one that retries
face the same demand.
"""

from __future__ import annotations

import inspect
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from harness.record import Columns
from harness.workload.history import HistoryRecorder
from harness.workload.session import Kind, Outcome, Phase, session_key, session_value, value_hash

LOGOUT_SHARE = 0.05  # of requests by a logged-in user
JOIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class AppFacts(Columns):
    """The application load: which client, how configured, under what."""

    app_client: str = ""  # defaults | careful
    app_client_settings: str = ""  # the client's timeouts and retry policy, read from redis-py itself
    app_situation: str = ""  # restart: one server, killed and restarted; failover: Sentinels fail over
    app_threads: int = 0
    app_rate_per_thread: float = 0.0
    redis_py: str = ""  # the installed version


def redis_py_defaults() -> str:
    """redis-py's own defaults, read from the installed package (they change between versions)."""
    params = inspect.signature(redis.Redis.__init__).parameters
    retry = params["retry"].default
    backoff = getattr(retry, "_backoff", None)
    errors = ", ".join(dict.fromkeys(e.__name__ for e in getattr(retry, "_supported_errors", ())))
    backoff_text = type(backoff).__name__ + "".join(
        f" {name.strip('_')} {getattr(backoff, name):g} s" for name in ("_base", "_cap") if hasattr(backoff, name))
    return (f"socket_timeout {params['socket_timeout'].default} s, socket_connect_timeout "
            f"{params['socket_connect_timeout'].default} s, retry {retry.get_retries() if retry else 0} times "
            f"({backoff_text}) on {errors or 'nothing'}")


class _Thread:
    """One application thread: its users, their live sessions, its schedule."""

    def __init__(self, number: int, users: list[int], seed: int) -> None:
        self.number = number
        self.users = users
        self.rng = random.Random(seed * 104_729 + number)
        self.live: dict[int, int] = {}  # user -> session id the application created and has not ended


class AppLoad:
    """start() / begin_after_phase() / stop(), as the trial drives a load."""

    def __init__(self, client: redis.Redis, threads: int, rate_per_thread: float, users: int, ttl_s: int,
                 value_bytes: int, seed: int, recorder: HistoryRecorder) -> None:
        self.client = client
        self.interval_s = 1.0 / rate_per_thread
        self.ttl_s = ttl_s
        self.value_bytes = value_bytes
        self.recorder = recorder
        self.lock = threading.Lock()  # the recorder is not thread-safe
        self.phase = Phase.LOAD
        self.stopping = threading.Event()
        self.threads = [_Thread(n, list(range(n, users, threads)), seed) for n in range(threads)]
        self._running: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def start(self) -> None:
        for state in self.threads:
            thread = threading.Thread(target=self._serve, args=(state,), name=f"app-{state.number}", daemon=True)
            thread.start()
            self._running.append(thread)

    def begin_after_phase(self, checked: bool = False) -> None:
        self.phase = Phase.AFTER  # the same requests go on; the phase only marks the fault for the charts

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._running:
            thread.join(JOIN_TIMEOUT_S)
        self._running.clear()
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a pool to a dead server may raise anything
            pass
        if self._errors:
            raise self._errors[0]

    def _serve(self, state: _Thread) -> None:
        due = time.monotonic()
        try:
            while not self.stopping.is_set():
                due = max(due + self.interval_s, time.monotonic() - self.interval_s)  # no catching up in bursts
                wait = due - time.monotonic()
                if wait > 0 and self.stopping.wait(wait):
                    return
                self._request(state)
        except BaseException as exc:  # a harness bug: surfaced by stop()
            self._errors.append(exc)

    def _request(self, state: _Thread) -> None:
        user = state.users[state.rng.randrange(len(state.users))]
        sid = state.live.get(user)
        if sid is None:
            sid = state.rng.getrandbits(62)  # an application's uuid4(), as an integer
            value = session_value(state.rng, sid, f"a{sid}", time.time_ns() // 1_000_000, self.value_bytes)
            ok, _ = self._call(state, Kind.LOGIN, sid, value_hash(value),
                               lambda: self.client.set(session_key(sid), value, ex=self.ttl_s), lambda r: -1)
            if ok:
                state.live[user] = sid  # logged in: the application now expects the session to be there
        elif state.rng.random() < LOGOUT_SHARE:
            state.live.pop(user)  # the user clicked log out: the session ends, whatever the reply
            self._call(state, Kind.LOGOUT, sid, 0, lambda: self.client.delete(session_key(sid)), int)
        else:
            ok, found = self._call(state, Kind.READ, sid, 0, lambda: self.client.get(session_key(sid)),
                                   lambda r: 0 if r is None else 1)
            if ok and not found:
                state.live.pop(user)  # the application believes the user logged out: it asks them to log in

    def _call(self, state: _Thread, kind: Kind, sid: int, vhash: int, request: Callable[[], object],
              result_of: Callable[[object], int]) -> tuple[bool, int]:
        """Make one request and record it; returns (it returned, its result)."""
        start = time.time_ns()
        try:
            reply = request()
            outcome, error = Outcome.OK, ""
        except redis.ResponseError as exc:  # an error reply (READONLY, NOREPLICAS, ...): it did not happen
            reply, outcome, error = None, Outcome.FAIL, f"{type(exc).__name__}: {exc}"
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:  # raised, outcome unknown
            reply, outcome, error = None, Outcome.UNKNOWN, f"{type(exc).__name__}: {exc}"
        end = time.time_ns()
        result = result_of(reply) if outcome is Outcome.OK else -1
        with self.lock:
            self.recorder.record(self.phase, state.number, kind, sid, start, end, outcome, vhash,
                                 self.ttl_s * 1000 if kind is Kind.LOGIN else 0, result, error[:80])
        return outcome is Outcome.OK, result


# -- the two ways to configure the client -------------------------------------------------------------

CAREFUL_TIMEOUT_S = 0.5  # socket and connect timeout: a stalled server is given up on fast
CAREFUL_BACKOFF = (0.05, 1.0)  # exponential backoff: base, cap (seconds)
CAREFUL_RETRIES = 8  # about 4.5 s of backoff in all: longer than a failover with a 1 s down-after
APP_CLIENTS = ("defaults", "careful")


def careful_settings(sentinel: bool) -> str:
    base, cap = CAREFUL_BACKOFF
    return (("Sentinel-aware (Sentinel(...).master_for), " if sentinel else "")
            + f"socket_timeout {CAREFUL_TIMEOUT_S:g} s, socket_connect_timeout {CAREFUL_TIMEOUT_S:g} s, retry "
            f"{CAREFUL_RETRIES} times (ExponentialBackoff base {base:g} s cap {cap:g} s) on ConnectionError, "
            "TimeoutError")


def app_client(kind: str, host: str, port: int, sentinels: list[tuple[str, int]] | None = None,
               service: str = "") -> redis.Redis:
    """`defaults`: `redis.Redis(host, port)` as the advice writes it (pointed at the primary, no
    Sentinel). `careful`: timeouts, `Retry` with exponential backoff (retrying on timeouts too),
    and, where there are Sentinels, a Sentinel-aware client that follows the primary."""
    if kind == "defaults":
        return redis.Redis(host=host, port=port)
    if kind != "careful":
        raise ValueError(f"unknown application client {kind!r}: choose {', '.join(APP_CLIENTS)}")
    from redis.backoff import ExponentialBackoff  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415

    base, cap = CAREFUL_BACKOFF
    options = dict(socket_timeout=CAREFUL_TIMEOUT_S, socket_connect_timeout=CAREFUL_TIMEOUT_S,
                   retry=Retry(ExponentialBackoff(cap=cap, base=base), CAREFUL_RETRIES))
    if sentinels:
        from redis.sentinel import Sentinel  # noqa: PLC0415

        return Sentinel(sentinels, socket_timeout=CAREFUL_TIMEOUT_S, socket_connect_timeout=CAREFUL_TIMEOUT_S
                        ).master_for(service, **options)
    return redis.Redis(host=host, port=port, **options)
