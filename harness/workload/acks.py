"""What makes a write acknowledged: its reply alone, or its reply and a WAIT / WAITAOF after it.

- `plain`: the server's reply is the acknowledgement (what applications do by default).
- `wait`: `WAIT 1 <ms>` after each write, on the same connection: acknowledged only when it
  reports a replica that *received* the write (not that it stored it). A timeout (0 replicas)
  does not undo the write on the primary, so its outcome is unknown.
- `waitaof`: `WAITAOF 1 1 <ms>` (Redis 7.2+, Valkey): acknowledged once the write is fsynced to
  the primary's AOF and to one replica's. A server without the command, or a config without an
  AOF (the command then refuses `numlocal` 1), cannot run this mode: the run says so and skips it.
- `min-replicas`: the reply is the acknowledgement, but every data server runs with
  `min-replicas-to-write 1`: a primary that has no replica within `min-replicas-max-lag`
  seconds refuses writes with `-NOREPLICAS` (failed writes: they did not happen).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.workload.resp import ReplyError, encode

ACK_MODES = ("plain", "wait", "waitaof", "min-replicas")
DEFAULT_ACK_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class AckMode:
    name: str = "plain"
    timeout_ms: int = DEFAULT_ACK_TIMEOUT_MS  # WAIT / WAITAOF timeout

    def __post_init__(self) -> None:
        if self.name not in ACK_MODES:
            raise HarnessError(f"unknown ack mode {self.name!r}: choose {', '.join(ACK_MODES)}")
        if self.timeout_ms < 1:
            raise HarnessError(f"ack timeout {self.timeout_ms} ms: must be at least 1 ms")

    @property
    def command(self) -> bytes | None:
        """What follows every write on its connection (None: nothing)."""
        timeout = b"%d" % self.timeout_ms
        if self.name == "wait":
            return encode(b"WAIT", b"1", timeout)
        if self.name == "waitaof":
            return encode(b"WAITAOF", b"1", b"1", timeout)
        return None

    @property
    def min_replicas(self) -> int:
        """`min-replicas-to-write` for every data server (0: off, the server's default)."""
        return 1 if self.name == "min-replicas" else 0

    def unconfirmed(self, reply: object) -> str | None:
        """None when the reply to the command confirms the write; else why not (its outcome is
        then unknown: the write was applied on the primary, and may or may not survive)."""
        if isinstance(reply, ReplyError):
            return f"{self.name.upper()} error: {str(reply)[:60]}"
        if self.name == "wait":
            return None if isinstance(reply, int) and reply >= 1 else "WAIT timed out: 0 replicas"
        if isinstance(reply, list) and len(reply) == 2 and all(isinstance(n, int) for n in reply):
            local, replicas = reply
            if local >= 1 and replicas >= 1:
                return None
            return f"WAITAOF timed out: local {local}, replicas {replicas}"
        return f"{self.name.upper()}: unexpected reply {reply!r:.40}"


def why_unavailable(mode: AckMode, has_waitaof: bool, appendonly: bool) -> str | None:
    """Why this server and config cannot run the mode (None: they can)."""
    if mode.name != "waitaof":
        return None
    if not has_waitaof:
        return "the server has no WAITAOF command (Redis 7.2+ and Valkey have it)"
    if not appendonly:
        return "the config has no AOF (appendonly no), and WAITAOF 1 1 needs one on the primary"
    return None


def config_has_aof(text: str) -> bool:
    """Does a config fragment turn the AOF on? (The last `appendonly` line wins, as in Redis.)"""
    value = "no"
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].lower() == "appendonly":
            value = words[1].strip("\"'").lower()
    return value == "yes"
