"""TCP relays on loopback that a partition fault can cut and heal: the links between servers.

With the partition proxies, a server's replicas and the Sentinels reach it only through its
relay (it announces the relay's port), while clients reach it directly. Cutting a relay is a
network partition between that server and the rest, with its clients still on its side: nothing
crosses the relay until it heals, in either direction, on connections already open or new ones
(a new connection is accepted, as the kernel does before `accept()`, but reaches nothing). Held
bytes and closes are delivered once healed, as TCP would retransmit them after a partition;
nothing is ever dropped or reordered, so a stream never desynchronises.

Why our own relay and not a library: it is about 100 lines of asyncio, and what it must do (hold,
not drop; cut per server; loopback only) is the whole point. Every socket is on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from harness.server.net import LOOPBACK

CHUNK = 1 << 16
STOP_TIMEOUT_S = 5.0


class _Relay:
    """One listening port relaying to one server; `gate` set: links up; cleared: cut."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.gate = asyncio.Event()
        self.gate.set()
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()

    async def open(self) -> int:
        self.server = await asyncio.start_server(self._accepted, LOOPBACK, 0)
        return self.server.sockets[0].getsockname()[1]

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        await self.gate.wait()  # during a cut a new link reaches nothing
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            writer.close()  # the server is down: the peer sees its connection refused, late
            return
        self.writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await source.read(CHUNK)
                await self.gate.wait()  # held, not dropped, while cut
                if not data:
                    break
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.close()
        for task in list(self.tasks):
            task.cancel()


class ProxyHub:
    """The relays of one topology, on one event loop in a background thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="partition-proxy", daemon=True)
        self._thread.start()
        self._relays: dict[int, _Relay] = {}  # listening port -> relay

    def _call(self, coroutine) -> object:
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(STOP_TIMEOUT_S)

    def add(self, target_port: int) -> int:
        """A relay to the server on `target_port`; returns the relay's own port."""
        async def make() -> tuple[int, _Relay]:
            relay = _Relay(target_port)
            return await relay.open(), relay

        port, relay = self._call(make())
        self._relays[port] = relay
        return port

    def _set(self, port: int, up: bool) -> None:
        relay = self._relays[port]
        self._loop.call_soon_threadsafe(relay.gate.set if up else relay.gate.clear)

    def cut(self, port: int) -> None:
        self._set(port, False)

    def heal(self, port: int) -> None:
        self._set(port, True)

    def close(self) -> None:
        """Close every relay and stop the loop; idempotent."""
        if self._loop.is_closed():
            return
        try:
            for relay in self._relays.values():
                self._loop.call_soon_threadsafe(relay.gate.set)
                self._call(relay.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_S)
            self._loop.close()
