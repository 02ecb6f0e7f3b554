"""The durability checker: history + what survived the crash -> lost, resurrected, stale, corrupt.

Pure functions, no I/O. A key's operations are sequential (one simulated user owns a session),
so its possible states can be enumerated exactly:

- a state is ABSENT or (value fingerprint, setter): the value the key holds and the operation
  (a login or a refresh) that last set its expiry; the expiry lies in that operation's window
  [start + ttl - 1 ms, end + ttl] (measured: the server stamps an expiry up to 0.98 ms before
  the request's start, since it truncates to whole milliseconds, and never after its end);
- an acknowledged write moves every possible state, a failed one none; one with an unknown
  outcome may or may not have happened, so both are kept; a state whose expiry window overlaps
  an operation may have expired before it (ABSENT) or not;
- every acknowledged reply is evidence: a `GET` hit (with the value read) or miss, an `EXPIRE`
  that applied (1) or found nothing (0), a `DEL` that deleted (1) or found nothing (0) says
  what the state was when it ran, so branches that contradict a reply are dropped, forward
  *and* backward (a later reply can prove what an earlier unknown operation did). A history
  whose replies leave no branch at all contradicts itself, and says so;
- what survived must equal the state after some *prefix* of the history, since both the AOF
  (a log) and an RDB snapshot preserve a prefix. The longest matching prefix is the durable
  point; acknowledged writes after it that changed something (a login, a refresh that
  applied, a logout that deleted) were lost.

States are a set, never a list of paths, so the work is linear in the operations times the
distinct states (at most the key's logins times its expiry-setting operations): no bound on
branches, and no silent assumption past one.

Verdicts per key:
  ok            the survivor is a state the full history allows;
  lost          the history says a session exists, none came back;
  resurrected   a session that was logged out (an acknowledged logout deleted it) came back,
                whatever happened on the key afterwards (a security problem);
  stale_refresh the right session came back with the expiry of an earlier write: an acknowledged
                refresh was lost;
  old_value     an older session document came back (a key logged into more than once);
  corrupt       a value never written for that key, or an expiry no request could have set:
                no prefix explains it (it adds nothing to lost writes or the loss window);
  phantom       a session is present that no write in the history could have created;
  contradiction the history's own replies cannot all be true (nothing is judged).

The global cut: an AOF is one log and an RDB one snapshot, so what survives is the state at
*one* moment for every key at once. Each key's matching prefixes bound that moment from below
(the start of the last write kept) and above (the end of the first write lost); `global_cut`
sweeps those intervals for a moment every key allows, and counts the holes when there is none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from harness.checkers.base import Checker, Evidence, Verdict
from harness.record import Columns
from harness.workload.session import Kind, Outcome, Phase

# Measured on 210,918 keys: the server stamps an expiry within [start - 0.98 ms, end - 0.07 ms]
# of the request (it reads its clock in whole milliseconds), never after the reply.
EXPIRY_SLACK_BELOW_MS = 1.0
EXPIRY_SLACK_ABOVE_MS = 0.0

LOGIN, READ, REFRESH, LOGOUT = Kind.LOGIN, Kind.READ, Kind.REFRESH, Kind.LOGOUT
OK, FAIL, UNKNOWN = Outcome.OK, Outcome.FAIL, Outcome.UNKNOWN
INF = float("inf")


class Op(NamedTuple):
    kind: Kind
    outcome: Outcome
    start_ms: float
    end_ms: float
    value_hash: int = 0  # a login's value; a read's value when it hit (0: not recorded)
    ttl_ms: int = 0  # logins and refreshes
    result: int = -1  # read: 1 hit, 0 miss; refresh: 1 applied, 0 key absent; logout: keys deleted


@dataclass(frozen=True)
class Observed:
    present: bool
    value_hash: int = 0
    expire_at_ms: int = -1  # absolute, ms; -1 means no expiry
    read_at_ms: float | None = None  # when this key was read (None: the check's read time)
    expire_slack_ms: float = 0.0  # how far the expiry read may be off (0: PEXPIRETIME, exact)


ABSENT = None
State = tuple[int, int] | None  # (value_hash, index of the op that set the expiry)


def changes_something(op: Op) -> bool:
    """An acknowledged write that changed the dataset: what the AOF holds, what can be lost."""
    if op.outcome is not OK:
        return False
    if op.kind is LOGIN:
        return True
    return op.kind in (REFRESH, LOGOUT) and op.result == 1


def window(ops: Sequence[Op], setter: int) -> tuple[float, float]:
    op = ops[setter]
    return op.start_ms + op.ttl_ms - EXPIRY_SLACK_BELOW_MS, op.end_ms + op.ttl_ms + EXPIRY_SLACK_ABOVE_MS


def _alive_options(ops: Sequence[Op], state: State, op: Op) -> list[State]:
    """What the key may hold when `op` runs: a state whose expiry window overlaps the op may
    have expired first."""
    if state is ABSENT:
        return [ABSENT]
    low, high = window(ops, state[1])
    options = [state] if high > op.start_ms else []
    if low <= op.end_ms:
        options.append(ABSENT)
    return options


def _consistent(pre: State, op: Op) -> bool:
    """Does an acknowledged reply allow this state before the op ran?"""
    if op.outcome is not OK:
        return True
    if op.kind is READ:
        if op.result == 1:
            return pre is not ABSENT and (op.value_hash == 0 or pre[0] == op.value_hash)
        return op.result != 0 or pre is ABSENT
    if op.kind in (REFRESH, LOGOUT) and op.result in (0, 1):
        return (pre is not ABSENT) == (op.result == 1)
    return True


def _applied(pre: State, op: Op, index: int) -> State:
    if op.kind is LOGIN:
        return (op.value_hash, index)
    if op.kind is LOGOUT:
        return ABSENT
    if op.kind is REFRESH and pre is not ABSENT:
        return (pre[0], index)
    return pre


def successors(ops: Sequence[Op], state: State, index: int) -> set:
    """Every state after op `index` from `state`, for every outcome its reply allows."""
    op = ops[index]
    out = set()
    for pre in _alive_options(ops, state, op):
        if op.kind is READ or op.outcome is FAIL:
            if _consistent(pre, op):
                out.add(pre)
            continue
        if op.outcome is UNKNOWN:
            out.add(pre)  # it did not happen
            out.add(_applied(pre, op, index))
        elif _consistent(pre, op):
            out.add(_applied(pre, op, index))
    return out


def _certain_states(ops: Sequence[Op]) -> list[set] | None:
    """The same when nothing branches (no unknown outcome, no expiry window overlapping a later
    operation): one state per prefix, found in one pass. Nearly every key takes this path.
    None when something branches."""
    state: State = ABSENT
    states = [{ABSENT}]
    for index, op in enumerate(ops):
        if op.outcome is UNKNOWN:
            return None
        if state is not ABSENT:
            low, high = window(ops, state[1])
            if low <= op.end_ms:
                return None  # it may have expired before this op
        if not _consistent(state, op):
            return [set() for _ in range(len(ops) + 1)]  # the replies contradict the only execution
        if op.kind is not READ and op.outcome is OK:
            state = _applied(state, op, index)
        states.append({state})
    return states


def feasible_states(ops: Sequence[Op]) -> list[set]:
    """For each prefix length p, the states the key may hold after ops[:p] in some execution
    that every reply of the whole history allows (forward reachability, then backward)."""
    certain = _certain_states(ops)
    if certain is not None:
        return certain
    forward = [{ABSENT}]
    for index in range(len(ops)):
        forward.append(set().union(*(successors(ops, s, index) for s in forward[-1])))
    feasible = [set() for _ in forward]
    feasible[-1] = forward[-1]
    for index in range(len(ops) - 1, -1, -1):
        later = feasible[index + 1]
        feasible[index] = {s for s in forward[index] if successors(ops, s, index) & later}
    return feasible


def matches(ops: Sequence[Op], state: State, seen: Observed, read_at_ms: float) -> bool:
    if not seen.present:
        return state is ABSENT or window(ops, state[1])[0] <= read_at_ms  # absent, or expired by the read
    if state is ABSENT or state[0] != seen.value_hash:
        return False
    low, high = window(ops, state[1])
    return low - seen.expire_slack_ms <= seen.expire_at_ms <= high + seen.expire_slack_ms


@dataclass(frozen=True)
class KeyVerdict:
    status: str
    lost_writes: int = 0
    stale_refreshes: int = 0
    first_lost_end_ms: float | None = None  # the first lost acknowledged write's end
    durable_prefix: int | None = None  # ops of this key's history that survived (None: no prefix fits)
    acked_writes: int = 0  # acknowledged writes of this key that changed something
    cut: tuple[tuple[float, float], ...] = ()  # moments a global cut may lie at, as (after, before) intervals


def _cut_intervals(ops: Sequence[Op], changing: Sequence[bool], prefixes: Iterable[int]
                   ) -> tuple[tuple[float, float], ...]:
    """(after, before) per matching prefix: after the start of the last write it kept, before the
    end of the first write it lost (only writes acknowledged as changing something bound it)."""
    kept_start = [-INF]  # the latest start of a changing write in ops[:p], for every p
    for op, changed in zip(ops, changing):
        kept_start.append(op.start_ms if changed else kept_start[-1])
    lost_end = [INF] * (len(ops) + 1)  # the earliest end of a changing write in ops[p:]
    for p in range(len(ops) - 1, -1, -1):
        lost_end[p] = ops[p].end_ms if changing[p] else lost_end[p + 1]
    intervals = []
    for p in sorted(prefixes):
        low, high = kept_start[p], lost_end[p]
        if low < high:
            intervals.append((low, high))
    merged: list[tuple[float, float]] = []
    for low, high in intervals:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _logged_out(ops: Sequence[Op], final: set, value: int) -> bool:
    """Was the session holding `value` logged out, whatever came after? An acknowledged logout
    deleted the key after that login; or the full history leaves no state holding it, and a
    logout that may have happened (unknown) came after the login, so the replies prove it did."""
    written = maybe = False
    for op in ops:
        if op.kind is LOGIN and op.value_hash == value:
            written = True
        elif written and op.kind is LOGOUT:
            if op.outcome is OK and op.result == 1:
                return True
            maybe = maybe or op.outcome is UNKNOWN
    return maybe and not any(s is not ABSENT and s[0] == value for s in final)


def check_key(ops: Sequence[Op], seen: Observed, read_at_ms: float) -> KeyVerdict:
    read_at = seen.read_at_ms if seen.read_at_ms is not None else read_at_ms
    changing = [changes_something(op) for op in ops]
    acked = sum(changing)
    feasible = feasible_states(ops)
    if not feasible[0]:
        return KeyVerdict("contradiction", acked_writes=acked)
    matching = [p for p, states in enumerate(feasible) if any(matches(ops, s, seen, read_at) for s in states)]
    if not matching:
        return KeyVerdict("corrupt", acked_writes=acked)
    best = matching[-1]
    cut = _cut_intervals(ops, changing, matching)
    if best == len(ops):
        return KeyVerdict("ok", durable_prefix=best, cut=cut, acked_writes=acked)
    lost = [op for op, changed in zip(ops[best:], changing[best:]) if changed]
    first = min((op.end_ms for op in lost), default=None)

    def verdict(status: str, stale: int = 0) -> KeyVerdict:
        return KeyVerdict(status, len(lost), stale, first, best, acked_writes=acked, cut=cut)

    if not seen.present:
        return verdict("lost")
    if _logged_out(ops, feasible[-1], seen.value_hash):
        return verdict("resurrected")
    if any(s is not ABSENT and s[0] == seen.value_hash for s in feasible[-1]):
        return verdict("stale_refresh", stale=sum(op.kind is REFRESH for op in lost))
    return verdict("old_value")


# -- every key at once ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Cut:
    consistent: bool
    earliest_ms: float  # the moments one cut may lie at: (earliest, latest); inf where unbounded
    latest_ms: float
    holes: int  # lost acknowledged writes older than a write kept on another key


def global_cut(verdicts: Mapping[int, KeyVerdict]) -> Cut:
    """Is there one moment every key's survivor allows? A sweep over the interval end points:
    O(n log n) in the keys' intervals."""
    constrained = [v.cut for v in verdicts.values() if v.cut]
    if not constrained:
        return Cut(True, -INF, INF, 0)
    events = []
    for intervals in constrained:
        for low, high in intervals:
            events.append((low, 1))
            events.append((high, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # at a tie, an interval ends before the next begins (open ends)
    need, covered = len(constrained), 0
    earliest, latest = INF, -INF
    for index, (at, step) in enumerate(events):
        covered += step
        if step == 1 and covered == need:
            earliest = min(earliest, at)
            following = events[index + 1][0] if index + 1 < len(events) else INF
            latest = max(latest, following)
    if earliest < INF:
        return Cut(True, earliest, latest, 0)
    return Cut(False, -INF, INF, _holes(verdicts))


def _holes(verdicts: Mapping[int, KeyVerdict]) -> int:
    """Lost writes (first per key) acknowledged before the latest kept write of another key started."""
    kept = sorted(((v.cut[-1][0] if v.cut else -INF), key) for key, v in verdicts.items())
    top = kept[-2:] if len(kept) > 1 else kept
    holes = 0
    for key, v in verdicts.items():
        if v.first_lost_end_ms is None or not v.lost_writes:
            continue
        latest_other = next((start for start, other in reversed(top) if other != key), -INF)
        holes += v.first_lost_end_ms <= latest_other  # open intervals: equal ends leave no moment between
    return holes


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
    verdicts: dict[int, KeyVerdict] = field(default_factory=dict)

    def verdict_frame(self) -> pd.DataFrame:
        keys = sorted(self.verdicts)
        return pd.DataFrame({
            "key": pd.array(keys, dtype="int64"),
            "status": pd.Categorical([self.verdicts[k].status for k in keys]),
            "lost_writes": [self.verdicts[k].lost_writes for k in keys],
            "durable_prefix": pd.array([self.verdicts[k].durable_prefix for k in keys], dtype="Int64"),
        })


def _loss_window(result: CheckResult, cut: Cut, fault_ms: float) -> None:
    """The loss window as a bracket: from the fault back to the latest and the earliest moment the
    cut may lie at (0 when nothing acknowledged was lost)."""
    if not result.lost_writes:
        return
    firsts = [v.first_lost_end_ms for v in result.verdicts.values() if v.first_lost_end_ms is not None]
    oldest_lost = min(firsts)
    if cut.consistent:
        earliest = cut.earliest_ms if cut.earliest_ms > -INF else oldest_lost
        latest = min(cut.latest_ms, oldest_lost)
    else:  # no single cut: the per-key worst case
        earliest = latest = oldest_lost
    result.loss_window_s = max(0.0, (fault_ms - earliest) / 1000)
    result.loss_window_min_s = max(0.0, (fault_ms - latest) / 1000)


def check(histories: Mapping[int, Sequence[Op]], survivors: Mapping[int, Observed], read_at_ms: float,
          fault_ms: float) -> CheckResult:
    """Judge every key the history touched and every key that came back (a key that came back
    with no history is a phantom)."""
    result = CheckResult()
    for key, ops in histories.items():
        verdict = check_key(ops, survivors.get(key, Observed(False)), read_at_ms)
        result.verdicts[key] = verdict
        result.acked_writes += verdict.acked_writes
        result.unknown_ops += sum(op.outcome is UNKNOWN for op in ops)
        if verdict.status not in ("corrupt", "contradiction"):
            result.lost_writes += verdict.lost_writes
            result.stale_refreshes += verdict.stale_refreshes
    for key, seen in survivors.items():
        if key not in histories and seen.present:
            result.verdicts[key] = KeyVerdict("phantom")
    result.statuses = Counter(v.status for v in result.verdicts.values())
    for name, status in (("lost_sessions", "lost"), ("resurrected_sessions", "resurrected"),
                         ("old_values", "old_value"), ("corrupt_values", "corrupt"),
                         ("phantom_sessions", "phantom"), ("contradictions", "contradiction")):
        setattr(result, name, result.statuses[status])
    cut = global_cut({k: v for k, v in result.verdicts.items() if v.status not in ("corrupt", "contradiction",
                                                                                   "phantom")})
    result.cut_consistent, result.holes = cut.consistent, cut.holes
    _loss_window(result, cut, fault_ms)
    return result


# -- adapters from the stored frames (the I/O edge stays outside this module) ----------------

def _codes(column: pd.Series, enum) -> np.ndarray:
    """Category codes of a stored column, mapped onto the enum's values whatever the order."""
    categorical = column.astype("category")
    lookup = np.array([enum[name.upper()].value for name in categorical.cat.categories], dtype=np.int64)
    return lookup[categorical.cat.codes.to_numpy()]


def histories_from_frame(history: pd.DataFrame) -> dict[int, list[Op]]:
    """Per-key op lists, in issue order, for the phases the checker judges (baseline, load).

    Reads are kept (a hit or a miss is evidence); failed reads are not (they say nothing).
    """
    phase = _codes(history["phase"], Phase)
    kind = _codes(history["kind"], Kind)
    outcome = _codes(history["outcome"], Outcome)
    keep = (phase != Phase.AFTER) & ~((kind == Kind.READ) & (outcome != Outcome.OK))
    order = np.lexsort((history["start_ns"].to_numpy()[keep], history["key"].to_numpy()[keep]))

    def column(values) -> list:
        return np.asarray(values)[keep][order].tolist()

    keys = column(history["key"].to_numpy())
    kinds, outcomes = list(Kind), list(Outcome)
    ops = [Op(kinds[k], outcomes[o], s / 1e6, e / 1e6, h, t, r) for k, o, s, e, h, t, r in zip(
        column(kind), column(outcome), column(history["start_ns"]), column(history["end_ns"]),
        column(history["value_hash"]), column(history["ttl_ms"]), column(history["result"]))]
    out: dict[int, list[Op]] = {}
    for key, op in zip(keys, ops):
        out.setdefault(key, []).append(op)
    return out


def survivors_from_frame(survivors: pd.DataFrame) -> dict[int, Observed]:
    """Observed states by key; `read_at_ms` per key where the readback stamped it (older runs did not)."""
    n = len(survivors)
    read_at = survivors["read_at_ms"].to_numpy() if "read_at_ms" in survivors else [None] * n
    slack = survivors["expire_slack_ms"].to_numpy() if "expire_slack_ms" in survivors else [0.0] * n
    return {
        int(k): Observed(bool(p), int(h), int(e), None if r is None or r != r else float(r), float(x))
        for k, p, h, e, r, x in zip(survivors["key"].to_numpy(), survivors["present"].to_numpy(),
                                    survivors["value_hash"].to_numpy(), survivors["expire_at_ms"].to_numpy(), read_at,
                                    slack)
    }


def check_frames(history: pd.DataFrame, survivors: pd.DataFrame, read_at_ms: float, fault_ms: float) -> CheckResult:
    return check(histories_from_frame(history), survivors_from_frame(survivors), read_at_ms, fault_ms)


def checked_keys(history: pd.DataFrame) -> Iterable[int]:
    """Every key the checked phases touched (reads included: a read key is read back too)."""
    phases = [Phase.BASELINE.name.lower(), Phase.LOAD.name.lower(), Phase.FAILOVER.name.lower()]
    return np.unique(history.loc[history["phase"].isin(phases), "key"].to_numpy()).tolist()


def acks_after(history: pd.DataFrame, fault_ns: int) -> int:
    """Load operations acknowledged after the fault was issued: the old server still answering
    while the fault was on its way (all of them are checked)."""
    return int(((history["phase"] == "load") & (history["outcome"] == "ok") & (history["end_ns"] > fault_ns)).sum())


# -- the checker as a trial runs it ----------------------------------------------------------

@dataclass(frozen=True)
class Durability(Columns):
    """What the durability checker counted (see the module docstring for the verdicts)."""

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
