"""Which keys the server evicted, as the server says so, and its memory while it did.

A subscriber connection listens on `__keyevent@0__:evicted` (the config must have
`notify-keyspace-events` with `E` and `e`): Redis publishes every key it evicts there, in the
same event-loop turn as the eviction. Beside it, `INFO` is sampled every `sample_s` (used
memory, `evicted_keys`), so the count of notifications can be checked against the server's own
counter, and the report can draw memory filling up. Pub/sub delivery is at most once: a
notification published while the subscriber is disconnected (the server crashed and came back
before it re-subscribed) is lost, which the INFO comparison shows.

`drain()` makes the notifications complete up to its last INFO sample: a PING on the subscribed
connection is answered after every message published before it.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import redis

from harness.server.base import admin_client

CHANNEL = b"__keyevent@0__:evicted"
POLL_S = 0.02


class EvictionWatch:
    """start() before the load, drain() and stop() after it; then frame() and samples()."""

    def __init__(self, port: int, sample_s: float = 0.1) -> None:
        self.port = port
        self.sample_s = sample_s
        self.life = 0  # 0: the first server process; +1 after each reconnect (a restart)
        self.evicted: list[tuple[int, str, int]] = []  # (received_ns, key, life)
        self.memory: list[tuple[int, int, int, int, int]] = []  # (t_ns, used_memory, evicted_keys, keys, life)
        self.deaf_ns = 0  # time spent not subscribed after the first subscription (a crash)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pubsub = None
        self._info = None
        self._error: BaseException | None = None

    # -- connection ---------------------------------------------------------------------------
    def _subscribe(self) -> None:
        self._info = admin_client(self.port, timeout_s=2.0)
        self._pubsub = self._info.pubsub(ignore_subscribe_messages=False)
        self._pubsub.subscribe(CHANNEL)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # the confirmation: from here on nothing is missed
            message = self._pubsub.get_message(timeout=POLL_S)
            if message and message["type"] == "subscribe":
                return
        raise redis.ConnectionError("no subscribe confirmation within 5 s")

    def start(self) -> None:
        self._subscribe()
        self._sample()
        self._thread = threading.Thread(target=self._main, name="eviction-watch", daemon=True)
        self._thread.start()

    # -- the listening thread -----------------------------------------------------------------
    def _record(self, message: dict | None) -> bool:
        """Keep an eviction; True when the message was the answer to drain()'s PING."""
        if not message:
            return False
        if message["type"] == "message":
            key = message["data"]
            self.evicted.append((time.time_ns(), key.decode(errors="replace") if isinstance(key, bytes) else str(key),
                                 self.life))
        return message["type"] == "pong"

    def _sample(self) -> None:
        info = self._info.info()
        keys = sum(v.get("keys", 0) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
        self.memory.append((time.time_ns(), int(info["used_memory"]), int(info.get("evicted_keys", 0)), keys,
                            self.life))

    def _listen(self) -> None:
        next_sample = time.monotonic() + self.sample_s
        while not self._stopping:
            self._record(self._pubsub.get_message(timeout=POLL_S))
            if time.monotonic() >= next_sample:
                self._sample()
                next_sample += self.sample_s

    def _reconnect(self) -> None:
        """The server went away (a crash): subscribe again as soon as it answers."""
        lost = time.monotonic()
        self._close()
        while not self._stopping:
            try:
                self._subscribe()
                self.life += 1
                self._sample()
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, redis.ResponseError):
                self._close()
                time.sleep(POLL_S / 2)
        self.deaf_ns += int((time.monotonic() - lost) * 1e9)

    def _main(self) -> None:
        try:
            while not self._stopping:
                try:
                    self._listen()
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    self._reconnect()
        except BaseException as exc:  # surfaced by stop()
            self._error = exc

    # -- the end --------------------------------------------------------------------------------
    def drain(self, timeout_s: float = 5.0) -> bool:
        """Stop listening in the background and take every notification published so far; False
        when the server did not answer (the last ones may be missing)."""
        self._stopping = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._error is not None:
            raise self._error
        try:
            # INFO first, then the PING: every eviction that INFO counts was published before the
            # PONG. (Any command may evict while memory is over the limit, INFO and PING too, so a
            # sample taken after the PONG could count one not yet received.)
            self._sample()
            self._pubsub.ping()
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self._record(self._pubsub.get_message(timeout=POLL_S)):
                    return True
        except (redis.ConnectionError, redis.TimeoutError, OSError, AttributeError):
            pass
        return False

    def _close(self) -> None:
        for thing in (self._pubsub, self._info):
            try:
                if thing is not None:
                    thing.close()
            except (redis.RedisError, OSError):
                pass
        self._pubsub = self._info = None

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._close()

    def frame(self) -> pd.DataFrame:
        """Every eviction notified: when it was received, the key's name, the server life."""
        return pd.DataFrame({"received_ns": pd.array([e[0] for e in self.evicted], dtype="int64"),
                             "key": pd.array([e[1] for e in self.evicted], dtype="string"),
                             "life": pd.array([e[2] for e in self.evicted], dtype="int64")})

    def samples(self) -> pd.DataFrame:
        """INFO as sampled: used memory, the server's evicted_keys counter, keys, per server life."""
        columns = ("t_ns", "used_memory", "evicted_keys", "keys", "life")
        return pd.DataFrame({name: pd.array([m[i] for m in self.memory], dtype="int64")
                             for i, name in enumerate(columns)})
