"""A minimal asyncio RESP client: one connection, hiredis parsing, replies matched in order.

Why not redis-py's asyncio client: the history needs to know exactly whether a request may
have reached the server. Here a request that could not be connected is never sent (the op is
not recorded as attempted), and any failure after the bytes were handed to the socket is
*unknown*, never *fail*; no layer retries behind our back. It is also several times faster.
"""

from __future__ import annotations

import asyncio
from collections import deque

import hiredis

ReplyError = hiredis.ReplyError


class ConnectionLost(ConnectionError):
    """The connection closed or broke while requests were outstanding."""


def encode(*parts: bytes) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class RespConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = hiredis.Reader()
        self._waiters: deque[asyncio.Future] = deque()
        self._transport: asyncio.Transport | None = None
        self._outgoing: list[bytes] = []
        self._loop = asyncio.get_event_loop()
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int, timeout_s: float = 1.0) -> "RespConnection":
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    # asyncio.Protocol callbacks -------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        while self._waiters:
            reply = self._parser.gets()
            if reply is False:
                break
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        error = ConnectionLost(str(exc) if exc else "connection closed by the server")
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    # requests ---------------------------------------------------------------------------------
    def send(self, payload: bytes) -> asyncio.Future:
        """Hand one encoded command to the socket; the future resolves with its reply.

        Several sends before awaiting pipeline the commands; replies arrive in order.
        """
        if self.closed or self._transport is None:
            raise ConnectionLost("connection already closed")
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        # Requests of every client sharing this connection that are issued in the same turn
        # of the event loop leave in one write(): pipelining across simulated users.
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(payload)
        return waiter

    def _flush(self) -> None:
        if self._outgoing and not self.closed:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    async def call(self, payload: bytes):
        return await self.send(payload)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()
