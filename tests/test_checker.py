"""The durability checker against an exhaustive reference and a model server.

The model executes a history the way a server does: a coin for every unknown outcome, an expiry
stamped at a random moment of the request (in whole milliseconds, as measured), replies read
off its real state. It then "crashes" after a random prefix, or, for many keys at once, at one
moment. The checker sees only the client's view (windows, not stamps; unknowns, not coins;
replies). The reference checker enumerates every outcome of the unknown operations (and every
"expired or not" where an expiry window overlaps an operation), path by path: for small
histories it is the definition, and the checker must agree with it exactly.
"""

from __future__ import annotations

import math
import random

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from harness.checkers.durability import (
    ABSENT,
    KeyVerdict,
    Observed,
    Op,
    changes_something,
    check,
    check_frames,
    check_key,
    global_cut,
    histories_from_frame,
    matches,
    window,
)
from harness.checkers.key_states import _applied, _consistent
from harness.workload.history import HistoryRecorder
from harness.workload.session import Kind, Outcome, Phase

LOGIN, READ, REFRESH, LOGOUT = Kind.LOGIN, Kind.READ, Kind.REFRESH, Kind.LOGOUT
OK, FAIL, UNKNOWN = Outcome.OK, Outcome.FAIL, Outcome.UNKNOWN
LONG_TTL = 10_000_000  # ms: nothing expires before the read
READ_AT = 2_000_000.0


# -- the reference: every path, one at a time --------------------------------------------------

def _paths(ops, index=0, state=ABSENT, trail=(ABSENT,)):
    """Every execution the replies allow: the state after each prefix, one path at a time."""
    if index == len(ops):
        yield trail
        return
    op = ops[index]
    options = [state]
    if state is not ABSENT:
        low, high = window(ops, state[1])
        options = ([state] if high > op.start_ms else []) + ([ABSENT] if low <= op.end_ms else [])
    for pre in options:
        if op.kind is READ or op.outcome is FAIL:
            outcomes = [pre] if _consistent(pre, op) else []
        elif op.outcome is UNKNOWN:
            outcomes = [pre, _applied(pre, op, index)]
        else:
            outcomes = [_applied(pre, op, index)] if _consistent(pre, op) else []
        for post in outcomes:
            yield from _paths(ops, index + 1, post, trail + (post,))


def reference(ops, seen: Observed, read_at: float = READ_AT) -> tuple[str, int | None, int]:
    """(status, durable prefix, lost writes) by the definitions, path by path."""
    paths = list(_paths(ops))
    if not paths:
        return "contradiction", None, 0
    matching = sorted({p for path in paths for p, s in enumerate(path) if matches(ops, s, seen, read_at)})
    if not matching:
        return "corrupt", None, 0
    best = matching[-1]
    lost = sum(changes_something(op) for op in ops[best:])
    if best == len(ops):
        return "ok", best, 0
    if not seen.present:
        return "lost", best, lost
    finals = {path[-1] for path in paths}
    written = False
    for op in ops:
        if op.kind is LOGIN and op.value_hash == seen.value_hash:
            written = True
        elif written and op.kind is LOGOUT and op.outcome is OK and op.result == 1:
            return "resurrected", best, lost
    logout_after = any(op.kind is LOGOUT and op.outcome is UNKNOWN for op in ops[_login_index(ops, seen):])
    if logout_after and not any(s is not ABSENT and s[0] == seen.value_hash for s in finals):
        return "resurrected", best, lost
    if any(s is not ABSENT and s[0] == seen.value_hash for s in finals):
        return "stale_refresh", best, lost
    return "old_value", best, lost


def _login_index(ops, seen: Observed) -> int:
    return next((i for i, op in enumerate(ops) if op.kind is LOGIN and op.value_hash == seen.value_hash), len(ops))


# -- the model server -------------------------------------------------------------------------------

class Model:
    """One key on a server: exact states, a coin per unknown outcome, expiry stamped in whole ms."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.state: tuple[int, int] | None = None  # (value, expiry stamp ms)
        self.states = [None]  # the state after each prefix
        self.effect_ms: list[float] = []  # when each op ran (inf: it never did)
        self.ops: list[Op] = []

    def _alive(self, at: float):
        return self.state if self.state is not None and self.state[1] > at else None

    def run(self, kind: Kind, outcome: Outcome, start: int, end: int, value: int, ttl: int) -> None:
        applied = outcome is OK or (outcome is UNKNOWN and self.rng.random() < 0.5)
        at = self.rng.uniform(start, end)  # when the server ran it
        stamp = math.floor(at) + ttl
        pre = self._alive(at)
        reply_value, result = 0, -1
        if kind is READ:
            result, reply_value = (1, pre[0]) if pre else (0, 0)
            self.state = pre
        elif kind is LOGIN and applied:
            self.state = (value, stamp)
        elif kind is REFRESH and applied:
            result = int(pre is not None)
            self.state = (pre[0], stamp) if pre else None
        elif kind is LOGOUT and applied:
            result = int(pre is not None)
            self.state = None
        elif not applied:
            self.state = pre
        if outcome is not OK:
            result, reply_value = -1, 0  # no reply seen
        recorded_value = value if kind is LOGIN else reply_value
        self.ops.append(Op(kind, outcome, float(start), float(end), recorded_value,
                           ttl if kind in (LOGIN, REFRESH) else 0, result))
        self.effect_ms.append(at if (applied and kind is not READ) else math.inf)
        self.states.append(self.state)

    def observed_after(self, prefix: int, read_at: float) -> Observed:
        state = self.states[prefix]
        if state is None or state[1] <= read_at:
            return Observed(False)
        return Observed(True, state[0], state[1])


op_spec = st.tuples(
    st.sampled_from(list(Kind)),
    st.sampled_from([OK] * 6 + [FAIL, UNKNOWN, UNKNOWN]),
    st.integers(0, 40),  # gap before the op (ms)
    st.integers(0, 30),  # round-trip time (ms)
)


def build(specs, seed: int, ttl: int = LONG_TTL, start: int = 1_000_000, value_base: int = 1000) -> Model:
    model = Model(random.Random(seed))
    now = start
    for index, (kind, outcome, gap, rtt) in enumerate(specs):
        begin = now + gap
        model.run(kind, outcome, begin, begin + rtt, value=value_base + index, ttl=ttl)
        now = begin + rtt  # one user per key: the next request starts after this one ended
    return model


def verdict_tuple(verdict: KeyVerdict) -> tuple:
    return verdict.status, verdict.durable_prefix, verdict.lost_writes


# -- properties ---------------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.lists(op_spec, max_size=9), st.integers(0, 2**32), st.data())
def test_the_checker_agrees_with_the_exhaustive_reference(specs, seed, data):
    ttl = data.draw(st.sampled_from([LONG_TTL, 25, 60]), label="ttl")
    model = build(specs, seed, ttl=ttl)
    prefix = data.draw(st.integers(0, len(model.ops)), label="durable prefix")
    read_at = model.ops[-1].end_ms + data.draw(st.integers(0, 80), label="read delay") if model.ops else READ_AT
    seen = model.observed_after(prefix, read_at)
    assert verdict_tuple(check_key(model.ops, seen, read_at)) == reference(model.ops, seen, read_at)


@settings(max_examples=400, deadline=None)
@given(st.lists(op_spec, max_size=12), st.integers(0, 2**32), st.data())
def test_a_crash_prefix_of_a_real_execution_is_explained_never_corrupt(specs, seed, data):
    ttl = data.draw(st.sampled_from([LONG_TTL, 30]), label="ttl")
    model = build(specs, seed, ttl=ttl)
    prefix = data.draw(st.integers(0, len(model.ops)), label="durable prefix")
    read_at = READ_AT if ttl == LONG_TTL else model.ops[-1].end_ms + 5 if model.ops else READ_AT
    verdict = check_key(model.ops, model.observed_after(prefix, read_at), read_at)
    assert verdict.status not in ("corrupt", "contradiction")
    assert verdict.durable_prefix is not None and verdict.durable_prefix >= prefix
    assert verdict.lost_writes <= sum(changes_something(op) for op in model.ops[prefix:])
    if prefix == len(model.ops):
        assert verdict.status == "ok" and verdict.lost_writes == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(op_spec, min_size=1, max_size=10), st.integers(0, 2**32), st.integers(1, 2**40))
def test_a_value_never_written_is_corrupt(specs, seed, alien):
    model = build(specs, seed)
    written = {op.value_hash for op in model.ops if op.kind is LOGIN}
    alien = alien if alien not in written else max(written) + 1
    assert check_key(model.ops, Observed(True, alien, 2_100_000), READ_AT).status == "corrupt"


@settings(max_examples=200, deadline=None)
@given(st.lists(op_spec, max_size=10), st.integers(0, 2**32))
def test_unknown_outcomes_are_never_counted_as_loss(specs, seed):
    model = build(specs, seed)
    verdict = check_key(model.ops, model.observed_after(len(model.ops), READ_AT), READ_AT)
    assert verdict.status == "ok" and verdict.lost_writes == 0


# -- the cases the earlier checker got wrong, one each ----------------------------------------------

T = 1_000_000  # the TTL of these cases (ms)
SOON = 5000.0  # their read time: long before anything expires


def login(v, s, e, out=OK):
    return Op(LOGIN, out, s, e, v, T)


def refresh(s, e, r=1, out=OK):
    return Op(REFRESH, out, s, e, 0, T, r if out is OK else -1)


def logout(s, e, r=1, out=OK):
    return Op(LOGOUT, out, s, e, 0, 0, r if out is OK else -1)


def read(s, e, v=0, out=OK):
    return Op(READ, out, s, e, v, 0, (1 if v else 0) if out is OK else -1)


@pytest.mark.parametrize("ops, seen, status", [
    # a refresh that applied proves the unknown login happened: its absence is a loss
    ([login(7, 100, 101, UNKNOWN), refresh(200, 201)], Observed(False), "lost"),
    # ... and that the unknown logout before it did not
    ([login(7, 100, 101), logout(150, 151, out=UNKNOWN), refresh(200, 201)], Observed(False), "lost"),
    # a refresh that found nothing proves the unknown logout happened: the session is back from a logout
    ([login(7, 100, 101), logout(150, 151, out=UNKNOWN), refresh(200, 201, r=0)], Observed(True, 7, 100 + T),
     "resurrected"),
    # a refresh that found nothing proves the unknown login did not happen: no prefix explains the value
    ([login(7, 100, 101, UNKNOWN), refresh(200, 201, r=0)], Observed(True, 7, 100 + T), "corrupt"),
    # a read that hit proves the unknown login happened
    ([login(7, 100, 101, UNKNOWN), read(150, 151, v=7)], Observed(False), "lost"),
    # a read that missed proves it did not: absence is right
    ([login(7, 100, 101, UNKNOWN), read(150, 151)], Observed(False), "ok"),
    # a logged-out session that comes back is resurrected, whatever came after the logout
    ([login(7, 100, 101), logout(200, 201), login(8, 300, 301)], Observed(True, 7, 100 + T), "resurrected"),
    # a DEL that deleted nothing lost nothing
    ([login(7, 100, 101), logout(200, 201), logout(300, 301, r=0)], Observed(False), "ok"),
    # a refresh 2 ms after the login, lost: the expiry is the login's (the old 5 ms slack hid this)
    ([login(7, 100, 100.4), refresh(102.5, 102.9)], Observed(True, 7, 100 + T), "stale_refresh"),
    # ... while within the same millisecond the two stamps cannot be told apart
    ([login(7, 100, 100.4), refresh(100.5, 100.9)], Observed(True, 7, 100 + T), "ok"),
])
def test_regressions(ops, seen, status):
    assert check_key(ops, seen, SOON).status == status
    assert verdict_tuple(check_key(ops, seen, SOON)) == reference(ops, seen, SOON)


def test_hundreds_of_unknown_logins_have_no_bound_and_no_assumption():
    ops = [login(i + 1, 100 + 10 * i, 101 + 10 * i, UNKNOWN) for i in range(300)]
    assert check_key(ops, Observed(True, 1, 100 + T), SOON).status == "ok"  # the first, the rest never ran
    assert check_key(ops, Observed(False), SOON).status == "ok"  # none ran


def test_replies_that_contradict_each_other_are_reported():
    ops = [login(7, 100, 101), read(150, 151, v=0)]  # acknowledged login, then a miss, nothing in between
    assert check_key(ops, Observed(True, 7, 100 + T), SOON).status == "contradiction"


def test_deletes_that_deleted_nothing_and_refreshes_that_found_nothing_are_not_acknowledged_writes():
    histories = {1: [login(7, 100, 101), logout(200, 201), logout(300, 301, r=0), refresh(400, 401, r=0)]}
    result = check(histories, {1: Observed(False)}, SOON, 5000)
    assert result.acked_writes == 2 and result.lost_writes == 0


def test_a_key_no_prefix_fits_adds_nothing_to_lost_writes_or_the_loss_window():
    histories = {1: [login(7, 100, 101)], 2: [login(8, 4000, 4001)]}
    survivors = {1: Observed(True, 7, 999), 2: Observed(False)}  # key 1: an expiry no request set
    result = check(histories, survivors, SOON, 4500)
    assert result.statuses["corrupt"] == 1 and result.lost_writes == 1
    assert result.loss_window_min_s == pytest.approx(0.499)  # key 2's lost login only, not key 1's


def test_a_session_nobody_created_is_a_phantom():
    result = check({1: [login(7, 100, 101)]}, {1: Observed(True, 7, 100 + T), 99: Observed(True, 5, 9 * T)},
                   SOON, 5000)
    assert result.phantom_sessions == 1 and result.table.status_of(99) == "phantom"


def test_per_key_read_time_explains_an_expiry_during_the_readback():
    ops = [Op(LOGIN, OK, 100, 101, 7, 1000)]  # expires at about 1100
    assert check_key(ops, Observed(False, read_at_ms=1200), read_at_ms=1050).status == "ok"
    assert check_key(ops, Observed(False), read_at_ms=1050).status == "lost"


# -- the global cut ------------------------------------------------------------------------------

def _multi_key(seed: int, keys: int, ops_per_key: int):
    rng = random.Random(seed)
    models = {}
    for key in range(keys):
        specs = [(rng.choice([LOGIN, REFRESH, READ, LOGOUT]), OK, rng.randint(1, 40), rng.randint(0, 5))
                 for _ in range(ops_per_key)]
        models[key] = build(specs, seed + key, start=1_000_000 + rng.randint(0, 30), value_base=1000 * (key + 1))
    return models


def _prefix_at(model: Model, moment: float) -> int:
    """How much of a key's history a cut at `moment` keeps: everything before the first write that
    ran at or after it (reads and writes that never ran leave nothing in the log)."""
    return next((i for i, at in enumerate(model.effect_ms) if moment <= at < math.inf), len(model.ops))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32), st.integers(2, 8), st.integers(1, 8), st.floats(0, 1))
def test_survivors_of_one_moment_are_a_consistent_cut_that_contains_it(seed, keys, ops_per_key, where):
    models = _multi_key(seed, keys, ops_per_key)
    last = max(m.ops[-1].end_ms for m in models.values())
    moment = 1_000_000 + where * (last - 1_000_000)
    verdicts = {key: check_key(m.ops, m.observed_after(_prefix_at(m, moment), READ_AT), READ_AT)
                for key, m in models.items()}
    cut = global_cut(verdicts)
    assert cut.consistent and cut.holes == 0
    assert cut.earliest_ms <= moment <= cut.latest_ms


def test_survivors_with_a_hole_are_no_consistent_cut():
    # key 1 kept its write at 500; key 2 lost its write acknowledged at 201: no single moment does both
    histories = {1: [login(7, 100, 101), refresh(500, 501)], 2: [login(8, 200, 201)]}
    survivors = {1: Observed(True, 7, 500 + T), 2: Observed(False)}
    result = check(histories, survivors, SOON, 600)
    assert not result.cut_consistent and result.holes == 1
    survivors[1] = Observed(True, 7, 100 + T)  # key 1's refresh lost too: a cut between 100 and 201 explains both
    result = check(histories, survivors, SOON, 600)
    assert result.cut_consistent and result.holes == 0
    assert result.loss_window_s == pytest.approx(0.5) and result.loss_window_min_s == pytest.approx(0.399)


# -- the adapter from the stored frames ---------------------------------------------------------------

def test_frames_adapter_keeps_reads_and_order_and_skips_the_after_phase():
    rec = HistoryRecorder()
    rec.record(Phase.LOAD, 0, Kind.LOGOUT, 5, 3_000_000, 3_100_000, Outcome.OK, result=1)
    rec.record(Phase.LOAD, 0, Kind.READ, 5, 2_000_000, 2_100_000, Outcome.OK, 99, result=1)
    rec.record(Phase.BASELINE, 0, Kind.LOGIN, 5, 1_000_000, 1_100_000, Outcome.OK, 99, LONG_TTL)
    rec.record(Phase.AFTER, 0, Kind.LOGIN, 6, 4_000_000, 4_100_000, Outcome.OK, 77, LONG_TTL)
    history = rec.frame()
    per_key = histories_from_frame(history)
    assert [op.kind for op in per_key[5]] == [Kind.LOGIN, Kind.READ, Kind.LOGOUT] and 6 not in per_key
    survivors = pd.DataFrame({"key": [5], "present": [True], "value_hash": [99], "expire_at_ms": [1 + LONG_TTL]})
    result = check_frames(history, survivors, read_at_ms=10, fault_ms=5)
    assert result.resurrected_sessions == 1


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(2, 6), st.integers(1, 6), st.floats(0, 1), st.floats(0, 1),
       st.integers(0, 5))
def test_a_survivor_set_has_a_hole_exactly_when_a_lost_write_is_older_than_a_kept_one(seed, keys, refreshes, a, b,
                                                                                      late):
    """Every key logged in then refreshed (each state distinct, so each survivor fits one prefix).
    All keys cut at one moment, but one key cut later: a hole exactly when some other key lost a
    write acknowledged before a write the late key kept was sent."""
    rng = random.Random(seed)
    models = {}
    for key in range(keys):
        specs = [(LOGIN, OK, rng.randint(3, 40), rng.randint(0, 5))] + [
            (REFRESH, OK, rng.randint(3, 40), rng.randint(0, 5)) for _ in range(refreshes)]
        models[key] = build(specs, seed + key, start=1_000_000 + rng.randint(0, 30), value_base=1000 * (key + 1))
    last = max(m.ops[-1].end_ms for m in models.values())
    early, later = sorted(1_000_000 + x * (last - 1_000_000) for x in (a, b))
    late_key = late % keys
    prefixes = {k: _prefix_at(m, later if k == late_key else early) for k, m in models.items()}
    verdicts = {k: check_key(m.ops, m.observed_after(prefixes[k], READ_AT), READ_AT) for k, m in models.items()}
    kept_start = {k: max((op.start_ms for op in m.ops[:prefixes[k]]), default=-math.inf) for k, m in models.items()}
    lost_end = {k: min((op.end_ms for op in m.ops[prefixes[k]:]), default=math.inf) for k, m in models.items()}
    hole = any(lost_end[x] <= kept_start[y] for x in models for y in models if x != y)
    cut = global_cut(verdicts)
    assert cut.consistent == (not hole)
    assert (cut.holes > 0) == hole
