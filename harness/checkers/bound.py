"""What bounded a trial's loss, read from the server's log and INFO (and powerfs's last fsync), not
assumed from the config's name. Pure.

What survives a crash is what was durable when it came, and what made it durable depends on what
loads at the restart (the AOF when `appendonly yes`, else the RDB) and on whether the power went:

    every-write        appendfsync always: each acknowledged write was fsynced before its reply
    page-cache         kill -9 with the AOF on: the operating system kept every write() Redis made;
                       only what it had not yet written (its AOF buffer, aof_buffer_bytes_at_crash)
                       could be lost
    aof-fsync          a power cut with the AOF on: the last fsync of its file (powerfs saw it) bounds it;
                       with everysec it follows the wall-clock second (crash_in_second)
    aof-rewrite-start  a power cut with the AOF on, and the last durable point was an AOF rewrite
                       starting (it fsyncs and closes the old file; its base holds the dataset then)
    bgsave             RDB only: the dataset as of the fork of the last finished BGSAVE
    none               nothing persisted
    running            the server was never stopped (a disk fault it rode out): nothing to bound

`durable_source` says who started the event that bounded it: `automatic` (the server's own
rewrite or save points), `baseline` (the harness, before the load: a long-running server's last
save) or `server` (appendfsync's own fsyncs).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checkers.base import Checker, Evidence, ServerEvidence, Verdict
from harness.record import NAN, Columns
from harness.server.logs import LogLine, log_lines

REWRITE_START = "Background append only file rewriting started by pid"
AUTO_REWRITE = "Starting automatic rewriting of AOF on"
REWRITE_DONE = ("Background AOF rewrite terminated with success", "Background AOF rewrite finished successfully")
SAVE_START = "Background saving started by pid"
AUTO_SAVE = "changes in"  # "10000 changes in 60 seconds. Saving..."
SAVE_DONE = "Background saving terminated with success"
FSYNC_NEAR_REWRITE_S = 0.5  # a fsync this soon after a rewrite started is that rewrite's close-and-fsync


@dataclass(frozen=True)
class SaveEvent:
    kind: str  # "rewrite" or "bgsave"
    started_ns: int  # the fork: the dataset the save holds is as of then
    done_ns: int  # 0: not finished (before the crash)
    automatic: bool


@dataclass(frozen=True)
class LossBound(Columns):
    """What bounded the loss: the last thing that made data durable before the server stopped."""

    durable_by: str = ""  # see the module docstring
    durable_source: str = ""  # automatic | baseline | server
    durable_before_crash_s: float = NAN  # how long before the crash the data it kept was current
    last_fsync_before_crash_s: float = NAN  # powerfs: the last file fsync that succeeded
    last_save_before_crash_s: float = NAN  # the fork of the last finished BGSAVE or AOF rewrite (from the log)
    crash_in_second: float = NAN  # where in its wall-clock second the crash came (0-1)
    automatic_saves: int = 0  # AOF rewrites and BGSAVEs the server started by itself during the trial


def save_events(lines: list[LogLine]) -> list[SaveEvent]:
    """Every background save the log shows, with when it forked, finished, and who started it."""
    events: list[SaveEvent] = []
    started: dict[str, tuple[int, bool]] = {}
    previous = ""
    for line in lines:
        text = line.text
        for kind, start, auto in (("rewrite", REWRITE_START, AUTO_REWRITE), ("bgsave", SAVE_START, AUTO_SAVE)):
            if text.startswith(start):
                started[kind] = (line.at_ns, auto in previous)
        done = "rewrite" if text.startswith(REWRITE_DONE) else "bgsave" if text.startswith(SAVE_DONE) else ""
        if done and done in started:
            at, auto = started.pop(done)
            events.append(SaveEvent(done, at, line.at_ns, auto))
        previous = text if line.role == "M" else previous
    events += [SaveEvent(kind, at, 0, auto) for kind, (at, auto) in started.items()]
    return sorted(events, key=lambda e: e.started_ns)


def _source(event: SaveEvent | None, load_start_ns: int) -> str:
    if event is None:
        return ""
    return "automatic" if event.automatic else "baseline" if event.started_ns < load_start_ns else "harness"


def _seconds(earlier_ns: int, later_ns: int) -> float:
    return round((later_ns - earlier_ns) / 1e9, 3) if earlier_ns and later_ns else NAN


def bound(server: ServerEvidence, crash_ns: int, load_start_ns: int) -> LossBound:
    """The bound for one trial (crash_ns: when the server stopped; 0 if it never did)."""
    if not crash_ns:
        return LossBound(durable_by="running")
    events = [e for e in save_events(log_lines(server.log, server.log_offset_s)) if e.started_ns <= crash_ns]
    finished = [e for e in events if e.done_ns and e.done_ns <= crash_ns]
    aof = server.config.get("appendonly", "no") == "yes"
    rdb = bool(server.config.get("save", "").strip())
    facts = server.fault_facts  # a power cut's count, or a disk fault's (both powerfs's last fsync)
    last_fsync = max(int(facts.get("last_fsync_ns", 0) or 0), int(facts.get("disk_last_fsync_ns", 0) or 0))
    common = dict(last_fsync_before_crash_s=_seconds(last_fsync, crash_ns),
                  crash_in_second=round((crash_ns % 1_000_000_000) / 1e9, 3),
                  automatic_saves=sum(e.automatic for e in events))
    relevant = [e for e in finished if e.kind == ("rewrite" if aof else "bgsave")]
    last_save = relevant[-1] if relevant else None
    common["last_save_before_crash_s"] = _seconds(last_save.started_ns, crash_ns) if last_save else NAN
    if aof and server.config.get("appendfsync") == "always":
        return LossBound(durable_by="every-write", durable_source="server", durable_before_crash_s=0.0, **common)
    if aof and not server.power_cut:
        return LossBound(durable_by="page-cache", durable_source="server", durable_before_crash_s=0.0, **common)
    if aof:
        rewrites = [e for e in events if e.kind == "rewrite"]
        started = rewrites[-1] if rewrites else None
        if started and (not last_fsync or last_fsync - started.started_ns < FSYNC_NEAR_REWRITE_S * 1e9):
            return LossBound(durable_by="aof-rewrite-start", durable_source=_source(started, load_start_ns),
                             durable_before_crash_s=_seconds(started.started_ns, crash_ns), **common)
        return LossBound(durable_by="aof-fsync", durable_source="server",
                         durable_before_crash_s=_seconds(last_fsync, crash_ns), **common)
    if rdb and last_save is not None:
        return LossBound(durable_by="bgsave", durable_source=_source(last_save, load_start_ns),
                         durable_before_crash_s=_seconds(last_save.started_ns, crash_ns), **common)
    return LossBound(durable_by="none", **common)


class BoundChecker(Checker):
    name = "bound"
    columns = LossBound

    def check(self, evidence: Evidence) -> Verdict:
        if evidence.server is None:
            return Verdict(LossBound())
        times = evidence.times
        crash_ns = times.crash_ns or (evidence.server.stopped_ns if evidence.server.stopped else 0)
        return Verdict(bound(evidence.server, crash_ns, times.load_start_ns))
