"""The durability checker: history + what survived the crash -> lost, resurrected, stale, corrupt.

Pure functions, no I/O. Each key's history is sequential (one worker owns a session), so a
key's possible states can be enumerated exactly:

- a state is ABSENT or (value fingerprint, earliest expiry, latest expiry), the expiry
  window being [op start + ttl, op end + ttl] since the server stamps the expiry somewhere
  inside the request's round trip;
- an acknowledged write moves every possible state; a failed one moves none; one with an
  unknown outcome may or may not have happened, so both branches are kept;
- what survived must equal the state after some *prefix* of the history, since both the
  AOF (a log) and an RDB snapshot preserve a prefix. The longest matching prefix is the
  durable point; acknowledged writes after it were lost.

Verdicts per key:
  ok            the survivor is a state the full history allows (unknowns either way,
                expiry by the read time included);
  lost          the history says a session exists, none came back: an acknowledged login
                (or refresh) with no acknowledged logout or expiry to explain it;
  resurrected   the history says logged out, yet a session came back (a security problem);
  stale_refresh the right session came back with an expiry earlier than an acknowledged
                refresh set;
  old_value     an older session document came back: a later acknowledged login was lost;
  corrupt       a value never written for that key, or an expiry no request could have set.
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

# The server's clock is this machine's clock, read in whole milliseconds: allow a little slack.
TOLERANCE_MS = 5
MAX_STATES = 256  # bound on branches from unknown outcomes on one key


class Op(NamedTuple):
    kind: Kind
    outcome: Outcome
    start_ms: float
    end_ms: float
    value_hash: int = 0  # logins only
    ttl_ms: int = 0  # logins and refreshes
    result: int = -1  # refresh: 1 applied, 0 key was absent; logout: keys deleted


@dataclass(frozen=True)
class Observed:
    present: bool
    value_hash: int = 0
    expire_at_ms: int = -1  # absolute, ms; -1 means no expiry


ABSENT = None
State = tuple[int, float, float] | None  # (value_hash, expiry lo, expiry hi)


@dataclass(frozen=True)
class KeyVerdict:
    status: str
    lost_writes: int = 0
    stale_refreshes: int = 0
    oldest_lost_ack_ms: float | None = None
    durable_prefix: int | None = None  # ops of this key's history that survived (None: no prefix fits)


def is_acked_write(op: Op) -> bool:
    if op.outcome is not Outcome.OK:
        return False
    if op.kind is Kind.REFRESH:
        return op.result == 1  # EXPIRE on a missing key changes nothing
    return op.kind in (Kind.LOGIN, Kind.LOGOUT)


def apply(state: State, op: Op) -> State:
    """The state after `op` took effect."""
    if op.kind is Kind.LOGIN:
        return (op.value_hash, op.start_ms + op.ttl_ms, op.end_ms + op.ttl_ms)
    if op.kind is Kind.LOGOUT:
        return ABSENT
    if op.kind is Kind.REFRESH and state is not ABSENT:
        return (state[0], op.start_ms + op.ttl_ms, op.end_ms + op.ttl_ms)
    return state


def step(states: frozenset, op: Op) -> frozenset:
    if op.kind is Kind.READ or op.outcome is Outcome.FAIL:
        return states
    if op.outcome is Outcome.OK:
        if op.kind is Kind.REFRESH and op.result == 0:
            return states  # the server said the key was not there; nothing changed
        return frozenset(apply(s, op) for s in states)
    moved = frozenset(apply(s, op) for s in states)  # unknown: either branch
    merged = states | moved
    return merged if len(merged) <= MAX_STATES else moved


def _longest_prefix_branching(ops, seen, read_at_ms, tol) -> tuple[int | None, frozenset]:
    """The longest prefix whose possible states include what was seen, and the final states."""
    states: frozenset = frozenset([ABSENT])
    best = 0 if any(matches(s, seen, read_at_ms, tol) for s in states) else None
    for index, op in enumerate(ops, 1):
        states = step(states, op)
        if any(matches(s, seen, read_at_ms, tol) for s in states):
            best = index
    return best, states


def _longest_prefix_certain(ops, seen, read_at_ms, tol) -> tuple[int | None, frozenset]:
    """The same without unknown outcomes: one possible state at each point. This runs for
    nearly every key, so it walks forward once and then looks for the match from the end
    (where it is found at once when nothing was lost)."""
    state: State = ABSENT
    after = [state]
    for op in ops:
        if op.outcome is Outcome.OK and op.kind is not Kind.READ and not (op.kind is Kind.REFRESH and op.result == 0):
            state = apply(state, op)
        after.append(state)
    for index in range(len(ops), -1, -1):
        if matches(after[index], seen, read_at_ms, tol):
            return index, frozenset([state])
    return None, frozenset([state])


def may_be_unexpired(state: State, read_at_ms: float, tol: float) -> bool:
    return state is not ABSENT and state[2] + tol > read_at_ms


def matches(state: State, seen: Observed, read_at_ms: float, tol: float = TOLERANCE_MS) -> bool:
    if not seen.present:
        # absent, or its expiry may have passed by the time we read
        return state is ABSENT or state[1] - tol <= read_at_ms
    if state is ABSENT or state[0] != seen.value_hash:
        return False
    return state[1] - tol <= seen.expire_at_ms <= state[2] + tol


def check_key(ops: Sequence[Op], seen: Observed, read_at_ms: float, tol: float = TOLERANCE_MS) -> KeyVerdict:
    if any(op.outcome is Outcome.UNKNOWN for op in ops):
        best, states = _longest_prefix_branching(ops, seen, read_at_ms, tol)
    else:
        best, states = _longest_prefix_certain(ops, seen, read_at_ms, tol)
    if best == len(ops):
        return KeyVerdict("ok", durable_prefix=best)

    lost = [op for op in ops[best or 0:] if is_acked_write(op)]
    oldest = min((op.end_ms for op in lost), default=None)
    written = {op.value_hash for op in ops if op.kind is Kind.LOGIN}

    def verdict(status: str, stale: int = 0) -> KeyVerdict:
        return KeyVerdict(status, len(lost), stale, oldest, best)

    if seen.present and (seen.value_hash not in written or best is None):
        return verdict("corrupt")
    if best is None:  # absent matches the empty prefix, so this cannot happen; kept for safety
        return verdict("corrupt")
    if not seen.present:
        return verdict("lost")
    live_values = {s[0] for s in states if may_be_unexpired(s, read_at_ms, tol)}
    if not live_values:
        return verdict("resurrected")
    if seen.value_hash in live_values:
        return verdict("stale_refresh", stale=sum(op.kind is Kind.REFRESH for op in lost))
    return verdict("old_value")


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
    unknown_ops: int = 0
    loss_window_s: float = 0.0
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


def check(histories: Mapping[int, Sequence[Op]], survivors: Mapping[int, Observed], read_at_ms: float,
          kill_ms: float, tol: float = TOLERANCE_MS) -> CheckResult:
    """Check every key; a key with no survivor row is treated as absent."""
    result = CheckResult()
    oldest: float | None = None
    for key, ops in histories.items():
        verdict = check_key(ops, survivors.get(key, Observed(False)), read_at_ms, tol)
        result.verdicts[key] = verdict
        result.statuses[verdict.status] += 1
        result.acked_writes += sum(is_acked_write(op) for op in ops)
        result.unknown_ops += sum(op.outcome is Outcome.UNKNOWN for op in ops)
        result.lost_writes += verdict.lost_writes
        result.stale_refreshes += verdict.stale_refreshes
        if verdict.oldest_lost_ack_ms is not None:
            oldest = verdict.oldest_lost_ack_ms if oldest is None else min(oldest, verdict.oldest_lost_ack_ms)
    result.lost_sessions = result.statuses["lost"]
    result.resurrected_sessions = result.statuses["resurrected"]
    result.old_values = result.statuses["old_value"]
    result.corrupt_values = result.statuses["corrupt"]
    result.loss_window_s = max(0.0, (kill_ms - oldest) / 1000) if oldest is not None else 0.0
    return result


# -- adapters from the stored frames (the I/O edge stays outside this module) ----------------

def _codes(column: pd.Series, enum) -> np.ndarray:
    """Category codes of a stored column, mapped onto the enum's values whatever the order."""
    categorical = column.astype("category")
    lookup = np.array([enum[name.upper()].value for name in categorical.cat.categories], dtype=np.int64)
    return lookup[categorical.cat.codes.to_numpy()]


def histories_from_frame(history: pd.DataFrame) -> dict[int, list[Op]]:
    """Per-key op lists, in issue order, for the phases the checker judges (baseline, load).

    Reads and failed operations change nothing, so they are left out here: the checker's work
    is proportional to the writes that may have happened.
    """
    phase = _codes(history["phase"], Phase)
    kind = _codes(history["kind"], Kind)
    outcome = _codes(history["outcome"], Outcome)
    keep = (phase != Phase.AFTER) & (kind != Kind.READ) & (outcome != Outcome.FAIL)
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
    return {
        int(k): Observed(bool(p), int(h), int(e))
        for k, p, h, e in zip(survivors["key"].to_numpy(), survivors["present"].to_numpy(),
                              survivors["value_hash"].to_numpy(), survivors["expire_at_ms"].to_numpy())
    }


def check_frames(history: pd.DataFrame, survivors: pd.DataFrame, read_at_ms: float, kill_ms: float) -> CheckResult:
    return check(histories_from_frame(history), survivors_from_frame(survivors), read_at_ms, kill_ms)


def checked_keys(history: pd.DataFrame) -> Iterable[int]:
    """Every key the checked phases touched (reads included: a read key is read back too)."""
    phases = [Phase.BASELINE.name.lower(), Phase.LOAD.name.lower()]
    return np.unique(history.loc[history["phase"].isin(phases), "key"].to_numpy()).tolist()


# -- the checker as a trial runs it ----------------------------------------------------------

@dataclass(frozen=True)
class Durability(Columns):
    """What the durability checker counted (see the module docstring for the verdicts)."""

    acked_writes: int = 0
    lost_writes: int = 0
    lost_sessions: int = 0
    resurrected_sessions: int = 0
    stale_refreshes: int = 0
    old_values: int = 0
    corrupt_values: int = 0
    unknown_ops: int = 0
    loss_window_s: float = 0.0  # oldest lost acknowledgement to the moment the server stopped (the fault)
    dataset_keys: int = 0  # checked sessions present after the restart


class DurabilityChecker(Checker):
    name = "durability"
    columns = Durability

    def check(self, evidence: Evidence) -> Verdict:
        times = evidence.times
        # The loss window reaches back from when the server stopped (a sequence's crash comes after its disk fault).
        stopped_ns = times.crash_ns or times.fault_ns
        result = check_frames(evidence.history, evidence.survivors, times.read_ns // 1_000_000, stopped_ns / 1e6)
        columns = Durability(
            acked_writes=result.acked_writes, lost_writes=result.lost_writes, lost_sessions=result.lost_sessions,
            resurrected_sessions=result.resurrected_sessions, stale_refreshes=result.stale_refreshes,
            old_values=result.old_values, corrupt_values=result.corrupt_values, unknown_ops=result.unknown_ops,
            loss_window_s=round(result.loss_window_s, 3),
            dataset_keys=int(evidence.survivors["present"].sum()) if len(evidence.survivors) else 0,
        )
        return Verdict(columns, per_key=result.verdict_frame()[["key", "status"]])
