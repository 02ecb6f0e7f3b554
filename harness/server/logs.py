"""Reading a server's log: why it stopped, what its last start did, how long its load took.

Redis and Valkey write the same lines; these are the ones the harness relies on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.server.net import LOOPBACK

_BUSY_PORT = re.compile(r"Could not create server TCP listening socket .*?:(\d+): bind: Address already in use")
_CONFIG_ERROR = re.compile(
    r"FATAL CONFIG FILE ERROR.*?\n\s*Reading the configuration file, at line (\d+)\n\s*>>> '(.*?)'\n\s*(.+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class ConfigComplaint:
    line: int
    text: str
    reason: str


def parse_config_complaint(log: str) -> ConfigComplaint | None:
    """The server's own complaint about its config file, if the log holds one."""
    match = _CONFIG_ERROR.search(log)
    if not match:
        return None
    return ConfigComplaint(int(match.group(1)), match.group(2), match.group(3).strip().splitlines()[0])


_STARTUP = re.compile(r"^.*oO0OoO0OoO0Oo \w+ is starting", re.MULTILINE)  # Redis and Valkey, every start
# 7.0+: "Truncating the AOF appendonly.aof.1.incr.aof at offset N"; 6.2 names no file.
_TRUNCATED_AOF = re.compile(r"Truncating the AOF (?:(\S+) )?at offset (\d+)")


def last_start(log: str) -> str:
    """The part of a server log written by its most recent start."""
    starts = list(_STARTUP.finditer(log))
    return log[starts[-1].start():] if starts else log


def truncated_aof(log: str) -> str:
    """'<file> at offset <n>' when the server cut a torn AOF tail while loading, else ''."""
    match = _TRUNCATED_AOF.search(log)
    return f"{match.group(1) or 'appendonly.aof'} at offset {match.group(2)}" if match else ""


def tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def exit_reason(log: str) -> str:
    """One line that says why a server stopped, from its log (the last line that explains)."""
    busy = _BUSY_PORT.search(log)
    if busy:
        return f"port {busy.group(1)} on {LOOPBACK} is busy (Address already in use)"
    complaint = parse_config_complaint(log)
    if complaint:
        return f"config line {complaint.line} '{complaint.text}': {complaint.reason}"
    for line in reversed(log.strip().splitlines()):
        if "#" in line or "FATAL" in line or "Bad file format" in line or "rror" in line:
            return line.split(" # ", 1)[-1].strip()
    last = log.strip().splitlines()
    return last[-1].strip() if last else "no log output"


_LOADED = re.compile(r"DB loaded from (?:append only file|disk): ([0-9.]+) seconds")


def server_load_seconds(log: str) -> float:
    """The server's own figure for the last load in `log` ("DB loaded from ...: X seconds")."""
    found = _LOADED.findall(log)
    return float(found[-1]) if found else float("nan")


_LOADED_FROM = re.compile(r"DB loaded from (append only file|disk):")


def loaded_from(log: str) -> str:
    """What a start whose log is `log` loaded: "aof", "rdb", or "nothing" (it started empty: no file,
    or, with appendonly on, an AOF created on the spot), "" if it never became ready."""
    found = _LOADED_FROM.findall(log)
    if found:
        return "aof" if found[-1] == "append only file" else "rdb"
    return "nothing" if "Ready to accept connections" in log else ""


_RDB_COUNTS = re.compile(r"Done loading RDB, keys loaded: (\d+), keys expired: (\d+)")


def rdb_load_counts(log: str) -> tuple[int, int] | None:
    """(keys loaded, keys found already expired and skipped), summed over the RDB loads of `log`
    (a dump.rdb, or an AOF's RDB base file), as the server logs them (Redis 7, Valkey); None when
    it logged no RDB load."""
    found = _RDB_COUNTS.findall(log)
    if not found:
        return None
    return sum(int(a) for a, _ in found), sum(int(b) for _, b in found)
