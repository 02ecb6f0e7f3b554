"""The server's reaction to the fault, and what clients saw of it.

From the server's own account (INFO before and around the fault, whether it exited and the last
words of its log: `ServerEvidence`) and from the history (the error replies clients got, by
prefix; how fast and how slowly acknowledgements came while the fault acted). Pure.

server_reaction
    refused-to-start  the restart after the fault failed (the server's words are restart_error)
    exited            it exited on its own while the fault acted (its last log line: exit_line)
    refused-writes    it kept running but refused writes (MISCONF ...) while the fault acted
    kept-serving      it kept running and acknowledged writes through the fault
    restarted         a fault that stops the server (kill -9, a power cut) and nothing before it;
                      it started again on what survived
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.checkers.base import Checker, Evidence, ServerEvidence, Verdict
from harness.record import NAN, Columns
from harness.server.logs import exit_reason, last_start

ERROR_PREFIXES = ("MISCONF", "OOM", "LOADING", "READONLY")
STATUSES = ("aof_last_write_status", "aof_last_bgrewrite_status", "rdb_last_bgsave_status")


@dataclass(frozen=True)
class ServerReaction(Columns):
    """What the server did about the fault (read from it), and what its clients saw."""

    server_reaction: str = ""  # see the module docstring
    restarted: bool = False  # the trial restarted it (a server a disk fault left running is read back as it is)
    exit_line: str = ""  # why it stopped, from its log, when it exited on its own
    aof_delayed_fsync: int = 0  # INFO: AOF writes that went ahead while a background fsync still ran
    aof_last_write_status: str = ""  # INFO, the last the server answered before it stopped (or at the end)
    aof_last_bgrewrite_status: str = ""
    rdb_last_bgsave_status: str = ""
    aof_buffer_bytes_at_crash: int = -1  # INFO aof_buffer_length right before the fault stopped it (-1: not read)
    errors_misconf: int = 0  # error replies clients got, by prefix
    errors_oom: int = 0
    errors_loading: int = 0
    errors_readonly: int = 0
    errors_other: int = 0
    fault_ops_s: float = NAN  # acknowledged ops/s from the fault until the server stopped (or the fault was over)
    fault_p99_ms: float = NAN  # latency of those operations
    fault_max_ms: float = NAN
    longest_stall_s: float = NAN  # the longest time in that window with no operation acknowledged


def error_counts(history: pd.DataFrame) -> dict[str, int]:
    """Error replies (outcome fail) by their first word: MISCONF, OOM, LOADING, READONLY, other."""
    failed = history.loc[history["outcome"] == "fail", "error"].astype(str)
    words = failed.str.split(" ", n=1).str[0].str.lstrip("-").str.upper()
    counts = {f"errors_{p.lower()}": int((words == p).sum()) for p in ERROR_PREFIXES}
    counts["errors_other"] = int(len(words) - sum(counts.values()))
    return counts


def window_end_ns(server: ServerEvidence | None, fallback_ns: int) -> int:
    if server is not None and server.stopped_ns:
        return server.stopped_ns
    if server is not None and server.watch_end_ns:
        return server.watch_end_ns
    return fallback_ns


def fault_window(history: pd.DataFrame, fault_ns: int, end_ns: int) -> dict[str, float]:
    """Acknowledged operations between the fault and `end_ns`: their rate, p99 and max latency, and
    the longest gap between acknowledgements (counted from the last one before the fault)."""
    ok = history[history["outcome"] == "ok"]
    inside = ok[(ok["end_ns"] > fault_ns) & (ok["end_ns"] <= end_ns)]
    if end_ns <= fault_ns:
        return {}
    before = ok.loc[ok["end_ns"] <= fault_ns, "end_ns"]
    edges = np.concatenate([[before.max() if len(before) else fault_ns], np.sort(inside["end_ns"].to_numpy()),
                            [end_ns]])
    latency_ms = (inside["end_ns"] - inside["start_ns"]).to_numpy() / 1e6
    return {
        "fault_ops_s": round(len(inside) / ((end_ns - fault_ns) / 1e9), 1),
        "fault_p99_ms": round(float(np.percentile(latency_ms, 99)), 3) if len(latency_ms) else NAN,
        "fault_max_ms": round(float(latency_ms.max()), 3) if len(latency_ms) else NAN,
        "longest_stall_s": round(float(np.diff(edges).max()) / 1e9, 3),
    }


def last_answer(server: ServerEvidence) -> dict:
    """The latest INFO the server answered while the fault acted: at its end (else just after it was
    lifted, which a server blocked behind a stalled fsync answers), right before the crash, or before."""
    for info in (server.info_at_end, server.info_after_lift, server.info_at_crash, server.info_before):
        if info and "unanswered" not in info:
            return info
    return {}


def classify(server: ServerEvidence | None, restart_failed: bool, disk_fault: bool, refused: bool) -> str:
    if restart_failed:
        return "refused-to-start"
    if server is not None and server.stopped == "exited":
        return "exited"
    if not disk_fault:
        return "restarted"
    return "refused-writes" if refused else "kept-serving"


def reaction(history: pd.DataFrame, server: ServerEvidence | None, fault_ns: int, end_ns: int,
             restart_failed: bool) -> ServerReaction:
    errors = error_counts(history[(history["end_ns"] > fault_ns)]) if fault_ns else error_counts(history.iloc[:0])
    info = last_answer(server) if server is not None else {}
    statuses = {name: str(info.get(name, "")) for name in STATUSES}
    disk_fault = bool(server is not None and server.fault_facts.get("disk_fault"))
    refused = errors["errors_misconf"] > 0 or statuses["aof_last_write_status"] == "err"
    crash_info = server.info_at_crash if server is not None else {}
    exit_line = ""
    if server is not None and server.stopped == "exited":
        exit_line = exit_reason(_before_restart(server.log))
    return ServerReaction(
        server_reaction=classify(server, restart_failed, disk_fault, refused),
        restarted=bool(server.restarted) if server is not None else True,
        exit_line=exit_line, aof_delayed_fsync=int(info.get("aof_delayed_fsync", 0) or 0), **statuses,
        aof_buffer_bytes_at_crash=int(crash_info.get("aof_buffer_length", -1)) if "aof_buffer_length" in crash_info
        else -1, **errors, **fault_window(history, fault_ns, end_ns))


def _before_restart(log: str) -> str:
    """The log up to the last start (what the server wrote before it stopped), when it was restarted."""
    latest = last_start(log)
    head = log[: len(log) - len(latest)]
    return head if head.strip() else log


class ReactionChecker(Checker):
    name = "reaction"
    columns = ServerReaction

    def check(self, evidence: Evidence) -> Verdict:
        times, server = evidence.times, evidence.server
        end_ns = window_end_ns(server, times.restart_ns or times.read_ns)
        failed = bool(server is not None and server.restart_failed)
        return Verdict(reaction(evidence.history, server, times.fault_ns, end_ns, failed))
