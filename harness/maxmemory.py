"""A memory limit for the eviction scenario: the size, the config it is composed into, and the
check on the real server that it leaves room for a trial.

`--maxmemory` is written the way redis.conf writes sizes (`16mb`, `512kb`, `1gb`, bytes), and
parsed here as the server parses it (`memtoull`: k = 1000, kb = 1024, m = 10^6, mb = 2^20, ...),
so a typo is one clear error before any server starts. A fragment that sets `maxmemory` itself
keeps its value; otherwise the harness appends the line, after the fragment's own lines (their
numbers stay what the user sees in the file). So does `notify-keyspace-events Ee`, which the
eviction watch needs (harness.workload.evictions).

The server starts with any limit, even one below what it uses empty (it then refuses every
write with `-OOM`), so the check starts it on the composed config and compares: a limit that
leaves no room for the baseline sessions is refused, naming the file and line (or the option)
it came from.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, ServerExited
from harness.server.base import Backend, ServerBuild, ServerSpec
from harness.server.net import free_port
from harness.spec import ConfigSpec

_SIZE = re.compile(r"^(\d+)(b|k|kb|m|mb|g|gb)?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
NOTIFY = "Ee"  # keyevent notifications (E) for evicted keys (e)
# A session as the server holds it: the value, the key, and the dict entry, TTL and allocator
# rounding around them (measured: ~450 bytes of used_memory per 300-byte session on Redis 7.0).
SESSION_OVERHEAD_BYTES = 150


def parse_size(text: str, where: str = "--maxmemory") -> int:
    """Bytes, from a redis.conf memory size; a clear error names `where` it came from."""
    match = _SIZE.match(str(text).strip())
    if not match:
        raise HarnessError(f"{where} {text!r}: not a memory size (bytes, or a number with k, kb, m, mb, g or gb: "
                           "16mb)")
    return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


def mib(size: int) -> str:
    return f"{size / 1024**2:.2f} MB"


@dataclass(frozen=True)
class Setting:
    """Where a directive's value comes from: a line of the user's file, or the harness."""

    value: str
    where: str  # "configs/eviction/x.conf:3: 'maxmemory 1mb'" or "--maxmemory 1mb"
    from_file: bool


def directive_line(text: str, directive: str) -> tuple[int, str, str] | None:
    """The last line setting `directive` (it wins): (line number, the line, its value)."""
    found = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = shlex.split(stripped)
        except ValueError:
            continue  # the config check names a line that does not split
        if words[0].lower() == directive and len(words) > 1:
            found = (number, stripped, " ".join(words[1:]))
    return found


def setting(config: ConfigSpec, directive: str, option: str, default: str) -> Setting:
    line = directive_line(config.text, directive)
    if line is None:
        return Setting(default, f"{option} {default} (appended to {config.source or config.name})", False)
    number, text, value = line
    return Setting(value, f"{config.source or config.name}:{number}: '{text}'", True)


def compose(fragment: ConfigSpec, maxmemory: str, extra_text: str = "", extra_source: str = "",
            name: str | None = None) -> ConfigSpec:
    """The fragment, then (optionally) another fragment's lines (a persistence config, which then
    wins over the fragment's own persistence lines), then what the harness adds: maxmemory unless
    the fragment sets it, and the notifications the eviction watch needs unless it sets them."""
    parts = [fragment.text.rstrip("\n")]
    if extra_text:
        parts.append(f"# persistence, from {extra_source}\n{extra_text.rstrip()}")
    added = []
    if directive_line(fragment.text, "maxmemory") is None:
        added.append(f"maxmemory {maxmemory}")
    if directive_line(fragment.text, "notify-keyspace-events") is None:
        added.append(f"notify-keyspace-events {NOTIFY}")
    if added:
        parts.append("# added by crash-matrix (--maxmemory; evictions notified to the harness)\n" + "\n".join(added))
    return ConfigSpec(name or fragment.name, "\n".join(parts) + "\n", fragment.description, fragment.source)


@dataclass(frozen=True)
class Room:
    """What the check needs to know of a trial."""

    baseline_sessions: int
    value_bytes: int

    @property
    def baseline_bytes(self) -> int:
        return self.baseline_sessions * (self.value_bytes + SESSION_OVERHEAD_BYTES)


def judge_room(limit: Setting, maxmemory: int, used_empty: int, room: Room, notify: str, notify_where: str) -> None:
    """Raise HarnessError when the limit or the notifications cannot make a trial (pure)."""
    if maxmemory == 0:
        raise HarnessError(f"{limit.where}: maxmemory 0 means no limit: the server would never evict")
    need = used_empty + 2 * room.baseline_bytes
    if maxmemory < need:
        raise HarnessError(
            f"{limit.where}: maxmemory {mib(maxmemory)} is too small for a trial: the empty server already uses "
            f"{mib(used_empty)} and the {room.baseline_sessions:,} baseline sessions need about "
            f"{mib(room.baseline_bytes)} (twice that is kept free for the load); give at least {mib(need)}")
    if "E" not in notify or not ({"e", "A"} & set(notify)):
        raise HarnessError(f"{notify_where}: notify-keyspace-events {notify!r}: the eviction scenario needs E and e "
                           "(keyevent notifications of evicted keys)")


@dataclass(frozen=True)
class RoomCheck:
    """One composed config to check, and where its settings came from (the user's fragment, or
    the harness), for the message."""

    config: ConfigSpec  # as the trial runs it (harness.maxmemory.compose)
    limit: Setting  # maxmemory
    notify_where: str
    room: Room

    @classmethod
    def of(cls, fragment: ConfigSpec, composed: ConfigSpec, maxmemory_option: str, room: Room) -> "RoomCheck":
        return cls(composed, setting(fragment, "maxmemory", "--maxmemory", maxmemory_option),
                   setting(fragment, "notify-keyspace-events", "the harness's", NOTIFY).where, room)

    def __call__(self, backend: Backend, build: ServerBuild, echo) -> None:
        check_room(backend, build, self)


def check_room(backend: Backend, build: ServerBuild, check: RoomCheck) -> None:
    """Start the server on the composed config in a scratch directory and judge its limit."""
    config = check.config
    scratch = Path(tempfile.mkdtemp(prefix=f"crash-matrix-check-{config.name}-"))
    path = scratch / f"{config.name}.conf"
    path.write_text(config.text)
    spec = ServerSpec(f"check-{config.name}", path, scratch / "data", scratch / "server.log", free_port())
    spec.data_dir.mkdir()
    server = backend.server(spec, build)
    try:
        server.start()
        client = server.client()
        used_empty = int(client.info("memory")["used_memory"])
        maxmemory = int(client.config_get("maxmemory")["maxmemory"])
        notify = str(client.config_get("notify-keyspace-events")["notify-keyspace-events"])
    except ServerExited as exc:
        raise HarnessError(f"{config.source or config.name}: the server would not start on it: {exc}") from None
    finally:
        server.remove()
        shutil.rmtree(scratch, ignore_errors=True)
    judge_room(check.limit, maxmemory, used_empty, check.room, notify, check.notify_where)
