"""What an operator does to a running server, for the restart pitfalls: edit its config file,
enable the AOF live, stop it the way `systemctl restart` or `docker stop` does.

None of these is a crash: the server gets SIGTERM and saves before it exits (with save points,
a final RDB snapshot; with the AOF on, an fsync of it), so whatever is lost afterwards is lost
to what the restart reads, not to what the stop failed to write. The shared facts of these
faults (`OperatorFacts`) are one group of trials.csv columns.
"""

from __future__ import annotations

import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.record import NAN, Columns
from harness.server.base import Server

STOP_TIMEOUT_S = 60.0
POLL_S = 0.01


@dataclass(frozen=True)
class OperatorFacts(Columns):
    """What the operator's steps did (the restart pitfalls)."""

    keys_before_stop: int = -1  # DBSIZE just before the server was stopped
    stop_s: float = NAN  # SIGTERM to exit: the final save
    aof_rewrite_s: float = NAN  # CONFIG SET appendonly yes to the rewrite finished (the safe path)
    config_edit: str = ""  # the line edited into the config file before the restart


def with_directive(text: str, directive: str, value: str) -> tuple[str, str]:
    """The config text with `directive value` in place of its last setting (or appended); and
    what changed, as 'old -> new'."""
    lines = text.splitlines()
    last = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        try:
            words = shlex.split(stripped) if stripped and not stripped.startswith("#") else []
        except ValueError:
            words = []
        if words and words[0].lower() == directive:
            last = index
    new = f"{directive} {value}"
    if last is None:
        return "\n".join(lines + [new]) + "\n", f"(none) -> {new}"
    old = lines[last].strip()
    lines[last] = new
    return "\n".join(lines) + "\n", f"{old} -> {new}"


def edit_config(path: Path, directive: str, value: str) -> str:
    """Edit the server's config file in place (the same file: a container has it bind-mounted, and
    a new inode would not be seen); returns what changed."""
    text, change = with_directive(path.read_text(), directive, value)
    with open(path, "r+") as handle:
        handle.write(text)
        handle.truncate()
    return change


def dbsize(server: Server) -> int:
    client = server.client()
    try:
        return int(client.dbsize())
    finally:
        client.close()


def stop_gracefully(server: Server, timeout_s: float = STOP_TIMEOUT_S) -> float:
    """SIGTERM, as `systemctl restart` and `docker stop` send it, and wait for the exit (the server
    saves first); returns how long that took. Killed, and an error, if it does not exit in time."""
    began = time.monotonic()
    server.signal(signal.SIGTERM)
    while server.is_running():
        if time.monotonic() - began > timeout_s:
            server.kill()
            raise HarnessError(f"server {server.spec.name} did not exit within {timeout_s:.0f} s of SIGTERM")
        time.sleep(POLL_S)
    return time.monotonic() - began


def enable_aof_live(server: Server, timeout_s: float = 120.0) -> float:
    """CONFIG SET appendonly yes, then wait until the rewrite it starts has finished (the AOF then
    holds the whole dataset); returns how long that took."""
    client = server.client()
    began = time.monotonic()
    try:
        before = int(client.info("persistence").get("aof_rewrites", 0))
        client.config_set("appendonly", "yes")
        while True:
            info = client.info("persistence")
            done = (not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled")
                    and int(info.get("aof_rewrites", before + 1)) > before)
            if done:
                if info.get("aof_last_bgrewrite_status") != "ok":
                    raise HarnessError("the AOF rewrite after CONFIG SET appendonly yes failed; see the server log")
                return time.monotonic() - began
            if time.monotonic() - began > timeout_s:
                raise HarnessError(f"the AOF rewrite after CONFIG SET appendonly yes took over {timeout_s:.0f} s")
            time.sleep(POLL_S)
    finally:
        client.close()
