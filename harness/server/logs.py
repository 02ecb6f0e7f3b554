"""Reading a server's log: why it stopped, what its last start did, how long its load took.

Redis and Valkey write the same lines; these are the ones the harness relies on.
"""

from __future__ import annotations

import calendar
import re
import time
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
# "12345:M 01 Dec 2026 07:25:25.123 * Ready to accept connections" (Redis and Valkey, legacy format);
# the role is M (main), C (a child: BGSAVE, rewrite), S (replica), X (sentinel).
_LINE = re.compile(r"^(\d+):([A-Z]) (\d{2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) (.) (.*)$", re.MULTILINE)
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                         "Dec"), 1)}


@dataclass(frozen=True)
class LogLine:
    at_ns: int  # wall clock, UTC (the line's local time plus the log's offset)
    pid: int
    role: str  # M main, C child
    text: str


def _local_ns(match: re.Match) -> int:
    day, month, year, hh, mm, ss, ms = match.group(3, 4, 5, 6, 7, 8, 9)
    seconds = calendar.timegm((int(year), _MONTHS.get(month, 1), int(day), int(hh), int(mm), int(ss)))
    return seconds * 1_000_000_000 + int(ms) * 1_000_000


def log_lines(log: str, offset_s: float = 0.0) -> list[LogLine]:
    """Every timestamped line of a log, its time made UTC with `offset_s` (log_clock_offset_s)."""
    shift = int(offset_s * 1e9)
    return [LogLine(_local_ns(m) + shift, int(m.group(1)), m.group(2), m.group(11)) for m in _LINE.finditer(log)]


def log_clock_offset_s(log: str, started_ns: int) -> float:
    """What to add to the log's local times to get UTC. The server writes local time (a container
    without a zone file: UTC; a process: this machine's zone); of the two, the one that puts the
    log's first line nearest the moment the harness started it."""
    first = _LINE.search(log)
    if first is None or not started_ns:
        return 0.0
    local = _local_ns(first)
    candidates = {0.0, float(-time.localtime(started_ns / 1e9).tm_gmtoff)}
    return min(candidates, key=lambda offset: abs(local + offset * 1e9 - started_ns))
