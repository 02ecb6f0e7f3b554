"""Every key's verdict as columns, and what they add up to: the totals, the global cut, the loss window.

The durability checker judges keys two ways: one at a time (harness.checkers.key_states, the
definition) and, for the keys whose history cannot branch, all at once
(harness.checkers.certain_keys). Both hand their verdicts over as a KeyTable, and one summary
turns the table into the trial's numbers, so the two ways cannot count differently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

INF = float("inf")
STATUSES = ("ok", "lost", "resurrected", "stale_refresh", "old_value", "corrupt", "phantom", "contradiction")
CODE = {name: code for code, name in enumerate(STATUSES)}
# Verdicts that say nothing about loss: they add no lost writes, and put no bound on the cut.
UNJUDGED = np.array([CODE["corrupt"], CODE["contradiction"], CODE["phantom"]], dtype=np.int8)


@dataclass(frozen=True)
class KeyTable:
    """One row per judged key (arrays of one length), and the moments a global cut may lie at for
    each key as merged (after, before) intervals, in key order then time order."""

    key: np.ndarray  # int64
    status: np.ndarray  # int8, codes into STATUSES
    lost_writes: np.ndarray  # int64
    stale_refreshes: np.ndarray  # int64
    first_lost_end_ms: np.ndarray  # float64: the first lost acknowledged write's end (nan: none lost)
    durable_prefix: np.ndarray  # int64: ops of the key's history that survived (-1: no prefix fits)
    acked_writes: np.ndarray  # int64: acknowledged writes that changed something
    unknown_ops: np.ndarray  # int64
    cut_key: np.ndarray  # int64
    cut_low: np.ndarray  # float64
    cut_high: np.ndarray  # float64

    @classmethod
    def empty(cls) -> "KeyTable":
        return cls(**{f.name: np.empty(0, dtype=_DTYPES[f.name]) for f in fields(cls)})

    @classmethod
    def concat(cls, tables: list["KeyTable"]) -> "KeyTable":
        return cls(**{f.name: np.concatenate([getattr(t, f.name) for t in tables]).astype(_DTYPES[f.name])
                      for f in fields(cls)})

    @classmethod
    def phantoms(cls, keys: np.ndarray) -> "KeyTable":
        """Keys present after the restart that no write in the history could have created."""
        table = cls.empty()
        zeros = np.zeros(len(keys), dtype=np.int64)
        return cls(key=np.asarray(keys, dtype=np.int64), status=np.full(len(keys), CODE["phantom"], dtype=np.int8),
                   lost_writes=zeros, stale_refreshes=zeros, first_lost_end_ms=np.full(len(keys), np.nan),
                   durable_prefix=zeros - 1, acked_writes=zeros, unknown_ops=zeros,
                   cut_key=table.cut_key, cut_low=table.cut_low, cut_high=table.cut_high)

    def status_of(self, key: int) -> str:
        return STATUSES[int(self.status[np.flatnonzero(self.key == key)[0]])]


_DTYPES = {"key": np.int64, "status": np.int8, "lost_writes": np.int64, "stale_refreshes": np.int64,
           "first_lost_end_ms": np.float64, "durable_prefix": np.int64, "acked_writes": np.int64,
           "unknown_ops": np.int64, "cut_key": np.int64, "cut_low": np.float64, "cut_high": np.float64}


@dataclass(frozen=True)
class Cut:
    consistent: bool
    earliest_ms: float  # the moments one cut may lie at: (earliest, latest); inf where unbounded
    latest_ms: float
    holes: int  # lost acknowledged writes older than a write kept on another key


def global_cut(table: KeyTable) -> Cut:
    """Is there one moment every key's survivor allows? A sweep over the interval end points:
    O(n log n) in the keys' intervals."""
    if not len(table.cut_key):
        return Cut(True, -INF, INF, 0)
    need = len(pd.unique(table.cut_key))  # pandas hashes; numpy's unique sorts or hashes slower here
    at = np.concatenate([table.cut_low, table.cut_high])
    step = np.concatenate([np.ones(len(table.cut_low), np.int64), -np.ones(len(table.cut_high), np.int64)])
    order = np.lexsort((step, at))  # at a tie, an interval ends before the next begins (open ends)
    at, step = at[order], step[order]
    covered = np.cumsum(step)
    everyone = (step == 1) & (covered == need)
    if everyone.any():
        following = np.append(at[1:], INF)
        return Cut(True, float(at[everyone].min()), float(following[everyone].max()), 0)
    return Cut(False, -INF, INF, _holes(table))


def _holes(table: KeyTable) -> int:
    """Lost writes (first per key) acknowledged before the latest kept write of another key started."""
    judged = ~np.isin(table.status, UNJUDGED)
    keys = table.key[judged]
    if not len(keys):
        return 0
    # Each key's latest kept write: the start bound of its last cut interval (-inf without one).
    last = np.append(table.cut_key[1:] != table.cut_key[:-1], True) if len(table.cut_key) else np.empty(0, bool)
    kept = pd.Series(table.cut_low[last], index=table.cut_key[last]).reindex(keys, fill_value=-INF).to_numpy()
    top = int(np.argmax(kept))
    second = np.max(np.delete(kept, top)) if len(kept) > 1 else -INF
    latest_other = np.where(np.arange(len(keys)) == top, second, kept[top])
    lost = table.lost_writes[judged] > 0
    first_lost = table.first_lost_end_ms[judged]
    return int(np.sum(lost & ~np.isnan(first_lost) & (first_lost <= latest_other)))


@dataclass
class CheckResult:
    """Totals over every checked key, plus each key's verdict for the results folder."""

    acked_writes: int = 0
    lost_writes: int = 0
    lost_sessions: int = 0
    resurrected_sessions: int = 0
    stale_refreshes: int = 0
    old_values: int = 0
    corrupt_values: int = 0
    phantom_sessions: int = 0
    contradictions: int = 0
    unknown_ops: int = 0
    loss_window_s: float = 0.0
    loss_window_min_s: float = 0.0
    cut_consistent: bool = True
    holes: int = 0
    statuses: Counter = field(default_factory=Counter)
    table: KeyTable = field(default_factory=KeyTable.empty)

    def verdict_frame(self) -> pd.DataFrame:
        t = self.table
        order = np.argsort(t.key, kind="stable")
        return pd.DataFrame({
            "key": pd.array(t.key[order], dtype="int64"),
            "status": pd.Categorical([STATUSES[c] for c in t.status[order].tolist()]),
            "lost_writes": t.lost_writes[order],
            "durable_prefix": pd.array(np.where(t.durable_prefix[order] < 0, None, t.durable_prefix[order]).tolist(),
                                       dtype="Int64"),
        })


def summarise(table: KeyTable, fault_ms: float) -> CheckResult:
    """The trial's numbers from every key's verdict."""
    judged = ~np.isin(table.status, UNJUDGED)
    counts = np.bincount(table.status, minlength=len(STATUSES))
    result = CheckResult(
        acked_writes=int(table.acked_writes.sum()), unknown_ops=int(table.unknown_ops.sum()),
        lost_writes=int(table.lost_writes[judged].sum()), stale_refreshes=int(table.stale_refreshes[judged].sum()),
        statuses=Counter({name: int(n) for name, n in zip(STATUSES, counts) if n}), table=table)
    for name, status in (("lost_sessions", "lost"), ("resurrected_sessions", "resurrected"),
                         ("old_values", "old_value"), ("corrupt_values", "corrupt"),
                         ("phantom_sessions", "phantom"), ("contradictions", "contradiction")):
        setattr(result, name, int(counts[CODE[status]]))
    cut = global_cut(table)
    result.cut_consistent, result.holes = cut.consistent, cut.holes
    _loss_window(result, cut, fault_ms)
    return result


def _loss_window(result: CheckResult, cut: Cut, fault_ms: float) -> None:
    """The loss window as a bracket: from the fault back to the latest and the earliest moment the
    cut may lie at (0 when nothing acknowledged was lost)."""
    if not result.lost_writes:
        return
    oldest_lost = float(np.nanmin(result.table.first_lost_end_ms))
    if cut.consistent:
        earliest = cut.earliest_ms if cut.earliest_ms > -INF else oldest_lost
        latest = min(cut.latest_ms, oldest_lost)
    else:  # no single cut: the per-key worst case
        earliest = latest = oldest_lost
    result.loss_window_s = max(0.0, (fault_ms - earliest) / 1000)
    result.loss_window_min_s = max(0.0, (fault_ms - latest) / 1000)
