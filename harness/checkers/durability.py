"""The durability checker: history + what survived the crash -> lost, resurrected, stale, corrupt.

What each verdict means, and how one key is judged, is harness.checkers.key_states (the
definition). This module judges a trial: every key the history touched and every key that came
back (a key that came back with no history is a phantom). From the stored frames the keys whose
history cannot branch are judged all at once (harness.checkers.certain_keys), the others one by
one; both give a KeyTable, and harness.checkers.verdict_table adds it up (totals, the global cut,
the loss window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.checkers.base import Checker, Evidence, Verdict
from harness.checkers.certain_keys import judge_certain
from harness.checkers.key_states import (ABSENT, EXPIRY_SLACK_ABOVE_MS, EXPIRY_SLACK_BELOW_MS, FAIL, LOGIN, LOGOUT,
                                         OK, READ, REFRESH, UNKNOWN, KeyVerdict, Observed, Op, changes_something,
                                         check_key, feasible_states, matches, successors, window)
from harness.checkers.op_arrays import observed_by_key, op_arrays, ops_by_key, seen_arrays
from harness.checkers.verdict_table import CODE, CheckResult, Cut, KeyTable, summarise
from harness.checkers.verdict_table import global_cut as _cut_of_table
from harness.record import Columns
from harness.workload.session import Phase

__all__ = ["ABSENT", "EXPIRY_SLACK_ABOVE_MS", "EXPIRY_SLACK_BELOW_MS", "FAIL", "LOGIN", "LOGOUT", "OK", "READ",
           "REFRESH", "UNKNOWN", "CheckResult", "Cut", "Durability", "DurabilityChecker", "KeyVerdict", "Observed",
           "Op", "changes_something", "check", "check_frames", "check_key", "feasible_states", "global_cut",
           "histories_from_frame", "matches", "successors", "survivors_from_frame", "window"]


def table_of(verdicts: Mapping[int, KeyVerdict], unknown_ops: Mapping[int, int] | None = None) -> KeyTable:
    """Verdicts judged one key at a time, as a KeyTable."""
    keys = list(verdicts)
    items = [verdicts[k] for k in keys]
    unknown = unknown_ops or {}
    cuts = [(k, low, high) for k in keys for low, high in verdicts[k].cut]
    return KeyTable(
        key=np.array(keys, dtype=np.int64), status=np.array([CODE[v.status] for v in items], dtype=np.int8),
        lost_writes=np.array([v.lost_writes for v in items], dtype=np.int64),
        stale_refreshes=np.array([v.stale_refreshes for v in items], dtype=np.int64),
        first_lost_end_ms=np.array([np.nan if v.first_lost_end_ms is None else v.first_lost_end_ms for v in items],
                                   dtype=np.float64),
        durable_prefix=np.array([-1 if v.durable_prefix is None else v.durable_prefix for v in items], dtype=np.int64),
        acked_writes=np.array([v.acked_writes for v in items], dtype=np.int64),
        unknown_ops=np.array([unknown.get(k, 0) for k in keys], dtype=np.int64),
        cut_key=np.array([c[0] for c in cuts], dtype=np.int64), cut_low=np.array([c[1] for c in cuts], dtype=np.float64),
        cut_high=np.array([c[2] for c in cuts], dtype=np.float64))


def global_cut(verdicts: Mapping[int, KeyVerdict]) -> Cut:
    """Is there one moment every key's survivor allows? (verdict_table.global_cut)"""
    return _cut_of_table(table_of(verdicts))


def check(histories: Mapping[int, Sequence[Op]], survivors: Mapping[int, Observed], read_at_ms: float,
          fault_ms: float) -> CheckResult:
    """Judge every key one at a time (the definition; check_frames is the fast way to the same)."""
    phantoms = [key for key, seen in survivors.items() if key not in histories and seen.present]
    return summarise(KeyTable.concat([one_by_one(histories, survivors, read_at_ms),
                                      KeyTable.phantoms(np.array(phantoms, np.int64))]), fault_ms)


def one_by_one(histories: Mapping[int, Sequence[Op]], survivors: Mapping[int, Observed], read_at_ms: float
               ) -> KeyTable:
    """check_key on every key of `histories` (one never read back is absent), as a KeyTable."""
    verdicts = {key: check_key(ops, survivors.get(key, Observed(False)), read_at_ms) for key, ops in histories.items()}
    unknown = {key: sum(op.outcome is UNKNOWN for op in ops) for key, ops in histories.items()}
    return table_of(verdicts, unknown)


# -- from the stored frames (the I/O edge stays outside this module) ----------------------------

def histories_from_frame(history: pd.DataFrame) -> dict[int, list[Op]]:
    """Per-key op lists, in issue order, for the phases the checker judges (baseline, load).

    Reads are kept (a hit or a miss is evidence); failed reads are not (they say nothing).
    """
    return ops_by_key(op_arrays(history))


def survivors_from_frame(survivors: pd.DataFrame) -> dict[int, Observed]:
    """Observed states by key; `read_at_ms` per key where the readback stamped it (older runs did not)."""
    return observed_by_key(seen_arrays(survivors))


def check_frames(history: pd.DataFrame, survivors: pd.DataFrame, read_at_ms: float, fault_ms: float) -> CheckResult:
    """check() on the stored frames: the keys that cannot branch at once, the others one by one."""
    ops, seen = op_arrays(history), seen_arrays(survivors)
    history_keys = ops.key[ops.key_starts()]
    fast, slow_keys = judge_certain(ops, seen.at(history_keys), read_at_ms)
    slow = one_by_one(ops_by_key(ops, only=slow_keys), observed_by_key(seen.at(slow_keys)), read_at_ms)
    return summarise(KeyTable.concat([fast, slow, KeyTable.phantoms(seen.absent_from(history_keys))]), fault_ms)


def checked_keys(history: pd.DataFrame) -> np.ndarray:
    """Every key the checked phases touched (reads included: a read key is read back too), sorted."""
    phases = [Phase.BASELINE.name.lower(), Phase.LOAD.name.lower(), Phase.FAILOVER.name.lower()]
    # pandas' hash table, then a sort: numpy's own unique took a second for a million keys here
    return np.sort(pd.unique(history.loc[history["phase"].isin(phases), "key"].to_numpy()))


def acks_after(history: pd.DataFrame, fault_ns: int) -> int:
    """Load operations acknowledged after the fault was issued: the old server still answering
    while the fault was on its way (all of them are checked)."""
    return int(((history["phase"] == "load") & (history["outcome"] == "ok") & (history["end_ns"] > fault_ns)).sum())


# -- the checker as a trial runs it ----------------------------------------------------------

@dataclass(frozen=True)
class Durability(Columns):
    """What the durability checker counted (harness.checkers.key_states says what each verdict means)."""

    acked_writes: int = 0  # acknowledged writes that changed something (a DEL that deleted nothing is not one)
    lost_writes: int = 0
    lost_sessions: int = 0
    resurrected_sessions: int = 0
    stale_refreshes: int = 0
    old_values: int = 0
    corrupt_values: int = 0
    phantom_sessions: int = 0  # present, yet no write in the history could have created them
    contradictions: int = 0  # keys whose own replies cannot all be true
    unknown_ops: int = 0
    acks_after_fault: int = 0  # acknowledged after the fault was issued, before it took effect
    loss_window_s: float = 0.0  # from the earliest moment the cut may lie at, to when the server stopped
    loss_window_min_s: float = 0.0  # from the latest one
    cut_consistent: bool = True  # one moment explains every key's survivor
    holes: int = 0  # lost acknowledged writes older than a kept write on another key
    dataset_keys: int = 0  # sessions present after the restart


class DurabilityChecker(Checker):
    name = "durability"
    columns = Durability

    def check(self, evidence: Evidence) -> Verdict:
        times = evidence.times
        # The loss window reaches back from when the server stopped (a sequence's crash comes after its disk fault).
        stopped_ns = times.crash_ns or times.fault_ns
        result = check_frames(evidence.history, evidence.survivors, times.read_ns / 1e6, stopped_ns / 1e6)
        columns = Durability(
            acked_writes=result.acked_writes, lost_writes=result.lost_writes, lost_sessions=result.lost_sessions,
            resurrected_sessions=result.resurrected_sessions, stale_refreshes=result.stale_refreshes,
            old_values=result.old_values, corrupt_values=result.corrupt_values,
            phantom_sessions=result.phantom_sessions, contradictions=result.contradictions,
            unknown_ops=result.unknown_ops, acks_after_fault=acks_after(evidence.history, times.fault_ns),
            loss_window_s=round(result.loss_window_s, 3), loss_window_min_s=round(result.loss_window_min_s, 3),
            cut_consistent=result.cut_consistent, holes=result.holes,
            dataset_keys=int(evidence.survivors["present"].sum()) if len(evidence.survivors) else 0,
        )
        return Verdict(columns, per_key=result.verdict_frame()[["key", "status"]])
