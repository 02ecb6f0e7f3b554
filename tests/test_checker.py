"""The checker against a simple model of the server, with generated histories and crashes.

The model executes a history the way a server would (exact expiry stamps, a coin for every
unknown outcome), then "crashes" it after a random prefix: what survives is the state after
that prefix. The checker, which sees only the client's view (windows, not stamps; unknowns,
not coins), must agree with what the model knows.
"""

from __future__ import annotations

import random

import hypothesis.strategies as st
import pandas as pd
from hypothesis import given, settings

from harness.checkers.durability import (
    Observed,
    Op,
    check,
    check_frames,
    check_key,
    histories_from_frame,
)
from harness.workload.history import HistoryRecorder
from harness.workload.session import Kind, Outcome, Phase

LONG_TTL = 10_000_000  # ms: nothing expires before the read


class Model:
    """A server executing one key's history: exact states, one coin per unknown outcome."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.state: tuple[int, int] | None = None  # (value, expiry stamp)
        self.states = [None]  # the state after each prefix
        self.ops: list[Op] = []
        self.applied: list[bool] = []

    def run(self, kind: Kind, outcome: Outcome, start: int, end: int, value: int, ttl: int) -> None:
        applied = outcome is Outcome.OK or (outcome is Outcome.UNKNOWN and self.rng.random() < 0.5)
        stamp = self.rng.randint(start, end)  # the server's clock while it ran the command
        result = -1
        if applied and kind is Kind.LOGIN:
            self.state = (value, stamp + ttl)
        elif applied and kind is Kind.LOGOUT:
            result = int(self.state is not None)
            self.state = None
        elif applied and kind is Kind.REFRESH:
            result = int(self.state is not None)
            if self.state is not None:
                self.state = (self.state[0], stamp + ttl)
        elif kind is Kind.REFRESH:
            result = 1  # never looked at for unapplied ops
        self.ops.append(Op(kind, outcome, float(start), float(end), value if kind is Kind.LOGIN else 0,
                           ttl if kind in (Kind.LOGIN, Kind.REFRESH) else 0, result))
        self.applied.append(applied)
        self.states.append(self.state)

    def observed_after(self, prefix: int, read_at: int) -> Observed:
        state = self.states[prefix]
        if state is None or state[1] <= read_at:
            return Observed(False)
        return Observed(True, state[0], state[1])

    def acked_writes_after(self, prefix: int) -> int:
        count = 0
        for op in self.ops[prefix:]:
            if op.outcome is Outcome.OK and (op.kind in (Kind.LOGIN, Kind.LOGOUT) or
                                             (op.kind is Kind.REFRESH and op.result == 1)):
                count += 1
        return count


op_spec = st.tuples(
    st.sampled_from(list(Kind)),
    st.sampled_from([Outcome.OK] * 6 + [Outcome.FAIL, Outcome.UNKNOWN]),
    st.integers(1, 40),  # gap before the op (ms); more than the checker's 5 ms tolerance below
    st.integers(0, 30),  # round-trip time (ms)
)


def build(specs, seed: int, ttl: int = LONG_TTL, gap_floor: int = 11) -> Model:
    model = Model(random.Random(seed))
    now = 1_000_000
    for index, (kind, outcome, gap, rtt) in enumerate(specs):
        start = now + gap + gap_floor
        end = start + rtt
        model.run(kind, outcome, start, end, value=1000 + index, ttl=ttl)
        # the next request starts after this one ended (one worker per key), and its expiry
        # window starts after this one's window ends, by more than the tolerance
        now = end + 6
    return model


def model_verdict(model: Model, observed: Observed, read_at: int) -> tuple[str, int]:
    """What a certain-knowledge observer says, for histories without unknown outcomes."""
    final = model.states[-1]
    final_live = final is not None and final[1] > read_at
    matching = [j for j, s in enumerate(model.states) if _same(s, observed, read_at)]
    best = max(matching)
    lost = model.acked_writes_after(best)
    if best == len(model.ops):
        return "ok", lost
    if not observed.present:
        return "lost", lost
    if not final_live:
        return "resurrected", lost
    if observed.value_hash == final[0]:
        return "stale_refresh", lost
    return "old_value", lost


def _same(state, observed: Observed, read_at: int) -> bool:
    if not observed.present:
        return state is None or state[1] <= read_at
    return state is not None and state == (observed.value_hash, observed.expire_at_ms)


@settings(max_examples=400, deadline=None)
@given(st.lists(op_spec, max_size=12), st.integers(0, 2**32), st.data())
def test_any_crash_prefix_is_explained_and_never_called_corrupt(specs, seed, data):
    model = build(specs, seed)
    prefix = data.draw(st.integers(0, len(model.ops)), label="durable prefix")
    read_at = 2_000_000
    verdict = check_key(model.ops, model.observed_after(prefix, read_at), read_at)
    assert verdict.status != "corrupt"
    assert verdict.durable_prefix is not None and verdict.durable_prefix >= prefix
    assert verdict.lost_writes <= model.acked_writes_after(prefix)
    if prefix == len(model.ops):
        assert verdict.status == "ok" and verdict.lost_writes == 0


@settings(max_examples=400, deadline=None)
@given(st.lists(op_spec.filter(lambda s: s[1] is not Outcome.UNKNOWN), max_size=12), st.integers(0, 2**32),
       st.data())
def test_without_unknowns_the_checker_agrees_with_the_model_exactly(specs, seed, data):
    model = build(specs, seed)
    prefix = data.draw(st.integers(0, len(model.ops)), label="durable prefix")
    read_at = 2_000_000
    observed = model.observed_after(prefix, read_at)
    verdict = check_key(model.ops, observed, read_at)
    status, lost = model_verdict(model, observed, read_at)
    assert (verdict.status, verdict.lost_writes) == (status, lost)
    if status == "stale_refresh":
        assert verdict.stale_refreshes >= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(op_spec, min_size=1, max_size=10), st.integers(0, 2**32), st.integers(1, 2**40))
def test_a_value_never_written_is_corrupt(specs, seed, alien):
    model = build(specs, seed)
    written = {op.value_hash for op in model.ops if op.kind is Kind.LOGIN}
    alien = alien if alien not in written else max(written) + 1
    verdict = check_key(model.ops, Observed(True, alien, 2_100_000), 2_000_000)
    assert verdict.status == "corrupt"


@settings(max_examples=200, deadline=None)
@given(st.lists(op_spec, max_size=10), st.integers(0, 2**32))
def test_unknown_outcomes_are_never_counted_as_loss(specs, seed):
    """Whatever the coins said, the full history is allowed: no loss of any kind."""
    model = build(specs, seed)
    read_at = 2_000_000
    verdict = check_key(model.ops, model.observed_after(len(model.ops), read_at), read_at)
    assert verdict.status == "ok" and verdict.lost_writes == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(op_spec.filter(lambda s: s[1] is not Outcome.UNKNOWN), max_size=10), st.integers(0, 2**32))
def test_expired_sessions_are_not_lost(specs, seed):
    """With a short TTL every session has expired by the read: absence is explained."""
    model = build(specs, seed, ttl=50)
    read_at = 3_000_000
    verdict = check_key(model.ops, Observed(False), read_at)
    assert verdict.status == "ok"


def test_lost_login_resurrected_logout_stale_refresh_examples():
    login = Op(Kind.LOGIN, Outcome.OK, 100, 101, value_hash=7, ttl_ms=1000)
    refresh = Op(Kind.REFRESH, Outcome.OK, 200, 201, ttl_ms=1000, result=1)
    logout = Op(Kind.LOGOUT, Outcome.OK, 300, 301, result=1)
    read_at = 500
    assert check_key([login], Observed(False), read_at).status == "lost"
    assert check_key([login], Observed(True, 7, 1100), read_at).status == "ok"
    assert check_key([login, logout], Observed(True, 7, 1100), read_at).status == "resurrected"
    stale = check_key([login, refresh], Observed(True, 7, 1100), read_at)
    assert (stale.status, stale.stale_refreshes, stale.lost_writes) == ("stale_refresh", 1, 1)
    assert check_key([login, refresh], Observed(True, 7, 1200), read_at).status == "ok"
    # an unknown logout may or may not have happened: both outcomes are fine
    maybe_logout = Op(Kind.LOGOUT, Outcome.UNKNOWN, 300, 301)
    assert check_key([login, maybe_logout], Observed(False), read_at).status == "ok"
    assert check_key([login, maybe_logout], Observed(True, 7, 1100), read_at).status == "ok"
    # a failed logout did not happen: the session must still be there
    failed_logout = Op(Kind.LOGOUT, Outcome.FAIL, 300, 301)
    assert check_key([login, failed_logout], Observed(False), read_at).status == "lost"
    # the session expired by itself: nothing lost
    assert check_key([login], Observed(False), 5000).status == "ok"
    # an expiry no request could have set
    assert check_key([login], Observed(True, 7, 99_999), read_at).status == "corrupt"


def test_check_totals_and_loss_window():
    histories = {
        1: [Op(Kind.LOGIN, Outcome.OK, 1000, 1010, 11, LONG_TTL)],  # lost
        2: [Op(Kind.LOGIN, Outcome.OK, 2000, 2010, 22, LONG_TTL)],  # survived
        3: [Op(Kind.LOGIN, Outcome.OK, 3000, 3010, 33, LONG_TTL), Op(Kind.LOGOUT, Outcome.OK, 4000, 4002, result=1)],
    }
    survivors = {2: Observed(True, 22, 2005 + LONG_TTL), 3: Observed(True, 33, 3005 + LONG_TTL)}
    result = check(histories, survivors, read_at_ms=9000, kill_ms=6010)
    assert result.acked_writes == 4
    assert (result.lost_sessions, result.resurrected_sessions, result.lost_writes) == (1, 1, 2)
    assert result.loss_window_s == 5.0  # kill at 6.010 s, oldest lost acknowledgement at 1.010 s


def test_frames_adapter_keeps_per_key_order_and_skips_the_after_phase():
    rec = HistoryRecorder()
    rec.record(Phase.LOAD, 0, Kind.LOGOUT, 5, 3_000_000, 3_100_000, Outcome.OK, result=1)
    rec.record(Phase.BASELINE, 0, Kind.LOGIN, 5, 1_000_000, 1_100_000, Outcome.OK, 99, LONG_TTL)
    rec.record(Phase.AFTER, 0, Kind.LOGIN, 5, 4_000_000, 4_100_000, Outcome.OK, 77, LONG_TTL)
    history = rec.frame()
    per_key = histories_from_frame(history)
    assert [op.kind for op in per_key[5]] == [Kind.LOGIN, Kind.LOGOUT]
    survivors = pd.DataFrame({"key": [5], "present": [True], "value_hash": [99], "expire_at_ms": [1 + LONG_TTL]})
    result = check_frames(history, survivors, read_at_ms=10, kill_ms=5)
    assert result.resurrected_sessions == 1
