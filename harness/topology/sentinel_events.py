"""What the Sentinels announce, as it happens: every event on their `+*` / `-*` channels, stamped
on arrival (loopback: well under a millisecond after the Sentinel published it).

The failover's instants come from these events, in the Sentinels' own words: the leader
publishes `+failover-state-wait-promotion` right after it sent `REPLICAOF NO ONE` to the replica
it chose (the promotion), `+switch-master` when it names the new primary, `+convert-to-slave`
when it demotes a returning old primary.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis

from harness.server.base import admin_client

POLL_S = 0.05


@dataclass(frozen=True)
class SentinelEvent:
    at_ns: int
    sentinel: str  # its role name: sentinel-1
    channel: str  # +switch-master
    data: str

    def line(self, origin_ns: int = 0) -> str:
        return f"{(self.at_ns - origin_ns) / 1e9:10.3f} {self.sentinel} {self.channel} {self.data}"


def port_in(data: str) -> int | None:
    """The instance a Sentinel event is about: '<type> <name> <ip> <port> @ ...' -> port."""
    words = data.split()
    return int(words[3]) if len(words) >= 4 and words[3].isdigit() else None


class SentinelWatch:
    """One listening thread per Sentinel; `events` grows until `stop()`."""

    def __init__(self, sentinels: dict[str, int]) -> None:
        self.sentinels = sentinels  # role -> port
        self.events: list[SentinelEvent] = []
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, port in self.sentinels.items():
            pubsub = admin_client(port, timeout_s=2.0).pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe("+*", "-*")
            thread = threading.Thread(target=self._listen, args=(name, pubsub), name=f"watch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _listen(self, name: str, pubsub) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    message = pubsub.get_message(timeout=POLL_S)
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    return  # the Sentinel is gone (the topology is being removed)
                if message and message.get("type") == "pmessage":
                    event = SentinelEvent(time.time_ns(), name, _text(message["channel"]), _text(message["data"]))
                    with self._changed:
                        self.events.append(event)
                        self._changed.notify_all()
        finally:
            pubsub.close()

    def first(self, channel: str, after_ns: int = 0) -> SentinelEvent | None:
        with self._changed:
            return next((e for e in self.events if e.channel == channel and e.at_ns > after_ns), None)

    def wait_for(self, channel: str, after_ns: int, timeout_s: float) -> SentinelEvent | None:
        """The first event on `channel` after `after_ns`, waiting up to `timeout_s` for it."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = next((e for e in self.events if e.channel == channel and e.at_ns > after_ns), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._changed.wait(min(left, POLL_S))

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(2.0)
        self._threads.clear()

    def text(self, origin_ns: int = 0) -> str:
        with self._changed:
            return "".join(event.line(origin_ns) + "\n" for event in self.events)


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
