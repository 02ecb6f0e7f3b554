"""Loopback only: every server listens on 127.0.0.1, every client talks to it there."""

from __future__ import annotations

import socket

from harness.errors import HarnessError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise HarnessError(f"port {port} on {LOOPBACK} is busy ({exc.strerror}); choose another with --port") from None
