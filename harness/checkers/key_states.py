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
sweeps those intervals for a moment every key allows, and counts the holes when there is none
(harness.checkers.verdict_table).

This module judges one key at a time, and is the definition; harness.checkers.certain_keys
judges the keys whose history cannot branch all at once, and must say the same of each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from harness.workload.session import Kind, Outcome

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
