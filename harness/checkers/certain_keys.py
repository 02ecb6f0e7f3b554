"""The keys whose history cannot branch, judged all at once: what check_key says of each.

Nearly every key of a trial has no operation with an unknown outcome, replies that agree with
each other, and an expiry that lies beyond its last operation. Its state after every prefix is
then a single state (key_states: `_certain_states`), and it can be found for all keys together
with running maxima over the operations in key order: the value is the last acknowledged login's
unless an acknowledged logout came later, the expiry is set by the last acknowledged write. The
matching prefixes, the lost writes, the verdict and the cut intervals follow by array arithmetic.

A key that may branch is left to check_key (the caller's). The condition used here is a
sufficient one (the earliest expiry any of the key's writes could set lies after the key's
last operation ended), so some keys that would not branch go the slow way too, never the other
way round. tests/test_checker_vectorised.py asserts that both ways give every key the same
verdict, lost writes, durable prefix and cut.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.checkers.key_states import EXPIRY_SLACK_ABOVE_MS, EXPIRY_SLACK_BELOW_MS
from harness.checkers.op_arrays import OpArrays, SeenArrays
from harness.checkers.verdict_table import CODE, KeyTable
from harness.workload.session import Kind, Outcome

INF = float("inf")


class _Keys:
    """Where each key's operations lie in the arrays."""

    def __init__(self, ops: OpArrays) -> None:
        n = len(ops)
        self.n = n
        self.first = ops.key_starts()
        self.count = np.diff(np.append(self.first, n))
        self.last = self.first + self.count - 1
        self.of_op = np.repeat(np.arange(len(self.first)), self.count)  # each op's key number
        self.first_of_op = self.first[self.of_op]
        self.last_of_op = self.last[self.of_op]
        self.index = np.arange(n)

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values.astype(np.int64), self.first)

    def max(self, values: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(values, self.first)

    def min(self, values: np.ndarray) -> np.ndarray:
        return np.minimum.reduceat(values, self.first)

    def latest_where(self, mask: np.ndarray) -> np.ndarray:
        """Per op: the index of the latest op at or before it, on its key, where `mask` holds (-1: none)."""
        latest = np.maximum.accumulate(np.where(mask, self.index, -1))
        return np.where(latest >= self.first_of_op, latest, -1)

    def next_where(self, mask: np.ndarray) -> np.ndarray:
        """Per op: the index of the first op after it, on its key, where `mask` holds (n: none)."""
        at_or_after = np.minimum.accumulate(np.where(mask, self.index, self.n)[::-1])[::-1]
        after = np.append(at_or_after[1:], self.n)
        return np.where(after <= self.last_of_op, after, self.n)


def judge_certain(ops: OpArrays, seen_by_key: SeenArrays, read_at_ms: float) -> tuple[KeyTable, np.ndarray]:
    """(the verdicts of the keys that cannot branch, the keys left to check_key). `seen_by_key` has
    one row per key of `ops`, in the same order."""
    if not len(ops):
        return KeyTable.empty(), np.empty(0, dtype=np.int64)
    keys = _Keys(ops)
    flags = _Flags(ops)
    states = _States(ops, keys, flags)
    certain = ((keys.sum(flags.unknown) == 0) & states.consistent
               & (keys.max(ops.end_ms) < keys.min(np.where(flags.sets_expiry, _low(ops, keys.index), INF))))
    judged = _Judged(ops, keys, flags, states, seen_by_key, read_at_ms)
    table = judged.table(certain)
    return table, ops.key[keys.first][~certain]


class _Flags:
    def __init__(self, ops: OpArrays) -> None:
        kind, result = ops.kind, ops.result
        self.ok = ops.outcome == Outcome.OK.value
        self.unknown = ops.outcome == Outcome.UNKNOWN.value
        self.login, self.logout = kind == Kind.LOGIN.value, kind == Kind.LOGOUT.value
        self.refresh, self.read = kind == Kind.REFRESH.value, kind == Kind.READ.value
        self.sets_expiry = self.ok & (self.login | self.refresh)
        # An acknowledged write that changed the dataset (key_states.changes_something).
        self.changing = self.ok & (self.login | ((self.refresh | self.logout) & (result == 1)))


def _low(ops: OpArrays, setter: np.ndarray) -> np.ndarray:
    """The earliest expiry an op could have set (key_states.window), computed in the same order."""
    return ops.start_ms[setter] + ops.ttl_ms[setter] - EXPIRY_SLACK_BELOW_MS


def _high(ops: OpArrays, setter: np.ndarray) -> np.ndarray:
    return ops.end_ms[setter] + ops.ttl_ms[setter] + EXPIRY_SLACK_ABOVE_MS


class _States:
    """The one execution of each key, if it does not branch: the state after every op, and whether
    every acknowledged reply agrees with the state before it (key_states._consistent)."""

    def __init__(self, ops: OpArrays, keys: _Keys, flags: _Flags) -> None:
        last_reset = keys.latest_where(flags.ok & (flags.login | flags.logout))
        safe = np.maximum(last_reset, 0)
        self.present = (last_reset >= 0) & flags.login[safe]
        self.value = np.where(self.present, ops.value_hash[safe], 0)
        # The last acknowledged write since that login set the expiry (a refresh on a present key applies).
        self.setter = np.where(self.present, keys.latest_where(flags.ok & ~flags.read), -1)
        first = keys.index == keys.first_of_op
        pre_present = np.append(False, self.present[:-1]) & ~first
        pre_value = np.append(0, self.value[:-1])
        vh, result = ops.value_hash, ops.result
        hit_wrong = flags.read & (result == 1) & ~(pre_present & ((vh == 0) | (pre_value == vh)))
        miss_wrong = flags.read & (result == 0) & pre_present
        yes_no = (flags.refresh | flags.logout) & ((result == 0) | (result == 1))
        said_wrong = yes_no & (pre_present != (result == 1))
        self.consistent = keys.sum(flags.ok & (hit_wrong | miss_wrong | said_wrong)) == 0


class _Judged:
    """Every key's verdict from its one execution and what was read back (key_states.check_key)."""

    def __init__(self, ops: OpArrays, keys: _Keys, flags: _Flags, states: _States, seen: SeenArrays,
                 read_at_ms: float) -> None:
        self.ops, self.keys, self.flags, self.states = ops, keys, flags, states
        self.seen = seen
        on = keys.of_op
        read_at = np.where(np.isnan(seen.read_at_ms), read_at_ms, seen.read_at_ms)[on]
        setter = np.maximum(states.setter, 0)
        with np.errstate(invalid="ignore"):
            low = np.where(states.present, _low(ops, setter), np.nan)
            high = np.where(states.present, _high(ops, setter), np.nan)
            slack, expire_at = seen.expire_slack_ms[on], seen.expire_at_ms[on]
            same = (states.present & (states.value == seen.value_hash[on])
                    & (low - slack <= expire_at) & (expire_at <= high + slack))
            gone = ~states.present | (low <= read_at)  # absent, or expired by the read
        # matches(): the state after op i is prefix i - first + 1; prefix 0 (absent) fits an absent survivor
        self.match = np.where(seen.present[on], same, gone)
        self.prefix = keys.index - keys.first_of_op + 1
        best = keys.max(np.where(self.match, self.prefix, -1))
        self.best = np.where((best < 0) & ~seen.present, 0, best)

    def table(self, certain: np.ndarray) -> KeyTable:
        keys, flags, ops, states, seen = self.keys, self.flags, self.ops, self.states, self.seen
        best = self.best
        corrupt = best < 0
        lost_op = flags.changing & (self.prefix > best[keys.of_op])
        lost = np.where(corrupt, 0, keys.sum(lost_op))
        first_lost = keys.min(np.where(lost_op, ops.end_ms, INF))
        stale = keys.sum(lost_op & flags.refresh)
        # _logged_out(): an acknowledged logout that deleted, after the first login of the value seen
        first_login = keys.min(np.where(flags.login & (ops.value_hash == seen.value_hash[keys.of_op]),
                                        keys.index, keys.n))
        last_logout = keys.max(np.where(flags.ok & flags.logout & (ops.result == 1), keys.index, -1))
        final_same = states.present[keys.last] & (states.value[keys.last] == seen.value_hash)
        status = np.select(
            [corrupt, best == keys.count, ~seen.present, last_logout > first_login, final_same],
            [CODE["corrupt"], CODE["ok"], CODE["lost"], CODE["resurrected"], CODE["stale_refresh"]],
            CODE["old_value"]).astype(np.int8)
        nothing_lost = corrupt | (status == CODE["ok"])
        cut_key, cut_low, cut_high = self._cut(certain & ~corrupt)
        return KeyTable(
            key=ops.key[keys.first][certain], status=status[certain],
            lost_writes=np.where(nothing_lost, 0, lost)[certain],
            stale_refreshes=np.where(status == CODE["stale_refresh"], stale, 0)[certain],
            first_lost_end_ms=np.where(nothing_lost | (first_lost == INF), np.nan, first_lost)[certain],
            durable_prefix=np.where(corrupt, -1, best)[certain], acked_writes=keys.sum(flags.changing)[certain],
            unknown_ops=np.zeros(int(certain.sum()), dtype=np.int64),
            cut_key=cut_key, cut_low=cut_low, cut_high=cut_high)

    def _cut(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """key_states._cut_intervals for every matching prefix of the wanted keys: after the start
        of the last write it kept, before the end of the first write it lost; merged per key."""
        keys, ops, changing = self.keys, self.ops, self.flags.changing
        kept = keys.latest_where(changing)
        kept_start = np.where(kept >= 0, ops.start_ms[np.maximum(kept, 0)], -INF)
        lost = keys.next_where(changing)
        lost_end = np.where(lost < keys.n, ops.end_ms[np.minimum(lost, keys.n - 1)], INF)
        # Prefix 0: nothing kept; the first changing write of the key is the first lost.
        first_changing = np.where(changing[keys.first], keys.first, lost[keys.first])
        zero_end = np.where(first_changing < keys.n, ops.end_ms[np.minimum(first_changing, keys.n - 1)], INF)
        number = np.concatenate([np.arange(len(keys.first)), keys.of_op])
        prefix = np.concatenate([np.zeros(len(keys.first), np.int64), self.prefix])
        low = np.concatenate([np.full(len(keys.first), -INF), kept_start])
        high = np.concatenate([zero_end, lost_end])
        fits = np.concatenate([~self.seen.present, self.match]) & wanted[number] & (low < high)
        number, prefix, low, high = number[fits], prefix[fits], low[fits], high[fits]
        order = np.lexsort((prefix, number))
        number, low, high = number[order], low[order], high[order]
        if not len(number):
            return np.empty(0, np.int64), np.empty(0), np.empty(0)
        reach = pd.Series(high).groupby(number).cummax().to_numpy()  # the running merged end, per key
        new_key = np.append(True, number[1:] != number[:-1])
        starts = np.flatnonzero(new_key | (low > np.append(-INF, reach[:-1])))
        return self.ops.key[keys.first][number[starts]], low[starts], np.maximum.reduceat(high, starts)
