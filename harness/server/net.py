"""Loopback only: every server listens on 127.0.0.1, every client talks to it there."""

from __future__ import annotations

import random
import socket

from harness.errors import HarnessError

LOOPBACK = "127.0.0.1"


# Servers listen below the kernel's ephemeral range: a port taken from inside it can be handed to
# one of our own client connections (an outgoing connect) before the server binds it, and the
# server then fails with "Address already in use" (seen: a replica of the failover topology, whose
# ports are all chosen before the first server starts).
SERVER_PORTS_FROM = 10_000
_handed_out: set[int] = set()  # never the same port twice in one process, even before it is bound


def _ephemeral_low() -> int:
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return low


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, outside the ephemeral range."""
    low = _ephemeral_low()
    first, last = SERVER_PORTS_FROM, low - 1 if low > SERVER_PORTS_FROM + 1000 else 65535  # an odd range: any
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(first, last)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise HarnessError(f"no free TCP port on {LOOPBACK} between {first} and {last}")


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise HarnessError(f"port {port} on {LOOPBACK} is busy ({exc.strerror}); choose another with --port") from None
