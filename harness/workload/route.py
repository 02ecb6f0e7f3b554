"""How the load finds the primary: one fixed address, or through the Sentinels as clients do.

- `fixed`: one address, for a single server (the crash matrix).
- `lookup`: as redis-py's Sentinel client (`Sentinel.master_for`): every new connection asks the
  Sentinels in turn (`SENTINEL MASTERS`) and takes the first that names a primary it does not
  consider down (subjectively or objectively); that Sentinel is asked first next time. A
  connection is given up, and the primary looked up again, when it drops, times out, or answers
  `READONLY` (the old primary was demoted). Until the Sentinels name a new primary, a lookup
  finds none (redis-py raises `MasterNotFoundError`).
- `subscribe`: as Jedis's `JedisSentinelPool` and Lettuce: the primary is found once
  (`SENTINEL get-master-addr-by-name`), then every Sentinel's `+switch-master` channel is
  listened to, and connections move to the new primary as soon as one announces it.

Every address a Sentinel gives is translated through the topology's address map: with the
partition proxies, Sentinels and replicas reach a server through its proxy port, while clients
reach it directly (only its links to the other servers are cut).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import hiredis

from harness.record import Columns
from harness.workload.resp import ConnectionLost, RespConnection, encode

ROUTES = ("fixed", "lookup", "subscribe")
SWITCH_CHANNEL = b"+switch-master"
LOOKUP_TIMEOUT_S = 0.5
RESUBSCRIBE_PAUSE_S = 0.2

Address = tuple[str, int]


@dataclass(frozen=True)
class ClientFacts(Columns):
    """How the load followed the primary, counted by the load itself."""

    client_mode: str = ""  # fixed | lookup | subscribe
    refused_connects: int = 0  # connection attempts refused or timed out (the driver retries every 10 ms)
    failed_lookups: int = 0  # lookups that found no primary (redis-py: MasterNotFoundError)
    switch_messages: int = 0  # +switch-master messages received (subscribe mode)


# -- what Sentinels say, as pure functions --------------------------------------------------------

def _fields(flat: list) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def master_state(reply: object, service: str) -> dict[str, str] | None:
    """The service's entry in a `SENTINEL MASTERS` reply (a list of flat name/value lists)."""
    if not isinstance(reply, list):
        return None
    for entry in reply:
        if isinstance(entry, list):
            state = _fields(entry)
            if state.get("name") == service:
                return state
    return None


def usable(state: dict[str, str]) -> bool:
    """A primary a client may use: flagged master, and not down in that Sentinel's eyes."""
    flags = set(state.get("flags", "").split(","))
    return "master" in flags and not flags & {"s_down", "o_down"}


def switch_target(data: object, service: str) -> Address | None:
    """`+switch-master` data: '<service> <old ip> <old port> <new ip> <new port>' -> the new address."""
    words = _text(data).split()
    if len(words) == 5 and words[0] == service and words[4].isdigit():
        return words[3], int(words[4])
    return None


class AddressMap:
    """Announced port -> the port clients use (identity without the partition proxies)."""

    def __init__(self, ports: dict[int, int] | None = None) -> None:
        self.ports = dict(ports or {})

    def __call__(self, address: Address) -> Address:
        host, port = address
        return host, self.ports.get(port, port)


# -- the routes -----------------------------------------------------------------------------------

class FixedRoute:
    mode = "fixed"
    follows_readonly = False

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.failed_lookups = 0
        self.switch_messages = 0

    async def primary(self) -> Address | None:
        return self.address

    async def watch(self, moved: Callable[[Address], None], stopped: Callable[[], bool]) -> None:
        return None


async def _ask(address: Address, *command: bytes) -> object:
    conn = await RespConnection.open(*address, timeout_s=LOOKUP_TIMEOUT_S)
    try:
        async with asyncio.timeout(LOOKUP_TIMEOUT_S):
            return await conn.call(encode(*command))
    finally:
        conn.close()


class SentinelLookup:
    mode = "lookup"
    follows_readonly = True

    def __init__(self, sentinels: list[Address], service: str, address_map: AddressMap | None = None) -> None:
        self.sentinels = list(sentinels)
        self.service = service
        self.map = address_map or AddressMap()
        self.failed_lookups = 0
        self.switch_messages = 0

    async def primary(self) -> Address | None:
        for index, sentinel in enumerate(self.sentinels):
            try:
                state = master_state(await _ask(sentinel, b"SENTINEL", b"MASTERS"), self.service)
            except (OSError, TimeoutError, ConnectionLost):
                continue
            if state and usable(state) and state.get("port", "").isdigit():
                self.sentinels[0], self.sentinels[index] = sentinel, self.sentinels[0]
                return self.map((state["ip"], int(state["port"])))
        self.failed_lookups += 1
        return None

    async def watch(self, moved: Callable[[Address], None], stopped: Callable[[], bool]) -> None:
        return None


class _Subscriber(asyncio.Protocol):
    """One SUBSCRIBE connection: every message on the channel goes to `deliver`."""

    def __init__(self, deliver: Callable[[object], None]) -> None:
        self.reader = hiredis.Reader()
        self.deliver = deliver
        self.lost = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(encode(b"SUBSCRIBE", SWITCH_CHANNEL))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                self.deliver(reply[2])

    def connection_lost(self, exc) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class SentinelSubscribe:
    mode = "subscribe"
    follows_readonly = False

    def __init__(self, sentinels: list[Address], service: str, address_map: AddressMap | None = None) -> None:
        self.sentinels = list(sentinels)
        self.service = service
        self.map = address_map or AddressMap()
        self.current: Address | None = None
        self.failed_lookups = 0
        self.switch_messages = 0

    async def primary(self) -> Address | None:
        if self.current is None:
            for sentinel in self.sentinels:
                try:
                    reply = await _ask(sentinel, b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", self.service.encode())
                except (OSError, TimeoutError, ConnectionLost):
                    continue
                if isinstance(reply, list) and len(reply) == 2:
                    self.current = self.map((_text(reply[0]), int(reply[1])))
                    break
            else:
                self.failed_lookups += 1
        return self.current

    async def watch(self, moved: Callable[[Address], None], stopped: Callable[[], bool]) -> None:
        await asyncio.gather(*(self._listen(sentinel, moved, stopped) for sentinel in self.sentinels))

    async def _listen(self, sentinel: Address, moved: Callable[[Address], None], stopped: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()

        def deliver(data: object) -> None:
            self.switch_messages += 1
            target = switch_target(data, self.service)
            if target is not None and self.map(target) != self.current:
                self.current = self.map(target)
                moved(self.current)

        while not stopped():
            try:
                transport, sub = await loop.create_connection(lambda: _Subscriber(deliver), *sentinel)
            except OSError:
                await asyncio.sleep(RESUBSCRIBE_PAUSE_S)
                continue
            while not sub.lost.done() and not stopped():
                await asyncio.wait([sub.lost], timeout=0.05)
            transport.close()


def make_route(mode: str, fixed: Address, sentinels: list[Address], service: str,
               address_map: AddressMap | None = None):
    """The route a load of `mode` takes (fixed needs no Sentinels)."""
    if mode == "fixed" or not sentinels:
        return FixedRoute(*fixed)
    if mode == "lookup":
        return SentinelLookup(sentinels, service, address_map)
    if mode == "subscribe":
        return SentinelSubscribe(sentinels, service, address_map)
    raise ValueError(f"unknown client mode {mode!r}: choose {', '.join(ROUTES)}")
