"""The checker's two ways agree: all keys at once (certain_keys, from the stored frames) and one key
at a time (key_states.check_key, the definition), on histories a model server executed.

Each example is several keys, each with its own random history (unknown and failed outcomes,
reads, requests within a millisecond of each other, short TTLs that expire during the history or
before the read), "crashed" at a random prefix, sometimes with a value or an expiry no request
wrote, a flipped reply, or a session nobody created. Every total, every key's verdict, lost
writes and durable prefix, and every cut interval must be the same both ways.
"""

from __future__ import annotations

import random

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import given, settings

from harness.checkers.certain_keys import judge_certain
from harness.checkers.durability import check, check_frames, histories_from_frame, survivors_from_frame
from harness.checkers.key_states import Observed, Op
from harness.checkers.op_arrays import op_arrays, seen_arrays
from harness.workload.history import HistoryRecorder
from harness.workload.session import Kind, Outcome, Phase

from test_checker import LONG_TTL, build, op_spec

NS = 1_000_000  # the model's times are in ms; the frames hold ns


def _frames(histories: dict[int, list[Op]], survivors: dict[int, Observed]) -> tuple[pd.DataFrame, pd.DataFrame]:
    recorder = HistoryRecorder()
    for key, ops in histories.items():
        for op in ops:
            recorder.record(Phase.LOAD, 0, op.kind, key, int(op.start_ms * NS), int(op.end_ms * NS), op.outcome,
                            op.value_hash, op.ttl_ms, op.result)
    keys = list(survivors)
    seen = [survivors[k] for k in keys]
    frame = pd.DataFrame({"key": pd.array(keys, dtype="int64"), "present": [s.present for s in seen],
                          "value_hash": pd.array([s.value_hash for s in seen], dtype="int64"),
                          "expire_at_ms": pd.array([s.expire_at_ms for s in seen], dtype="int64"),
                          "read_at_ms": [np.nan if s.read_at_ms is None else s.read_at_ms for s in seen]})
    return recorder.frame(), frame


def _mutate(rng: random.Random, ops: list[Op], seen: Observed) -> tuple[list[Op], Observed]:
    """Now and then what a healthy server never does: an alien value, an expiry no request set,
    a reply that contradicts the others."""
    roll = rng.random()
    if roll < 0.05 and seen.present:
        return ops, Observed(True, seen.value_hash + 1, seen.expire_at_ms)
    if roll < 0.10 and seen.present:
        return ops, Observed(True, seen.value_hash, seen.expire_at_ms - 50_000)
    if roll < 0.15 and ops:
        i = rng.randrange(len(ops))
        if ops[i].outcome is Outcome.OK and ops[i].kind is not Kind.LOGIN:
            ops = ops[:i] + [ops[i]._replace(result=1 - ops[i].result if ops[i].result in (0, 1) else 1)] + ops[i + 1:]
    return ops, seen


key_spec = st.tuples(st.lists(op_spec, min_size=1, max_size=8), st.sampled_from([LONG_TTL, LONG_TTL, 25, 60]),
                     st.integers(0, 2**32), st.floats(0, 1))


@settings(max_examples=400, deadline=None)
@given(st.lists(key_spec, min_size=1, max_size=6), st.integers(0, 80), st.booleans(), st.integers(0, 2**32))
def test_all_keys_at_once_say_what_each_key_alone_says(keys, read_delay, phantom, seed):
    rng = random.Random(seed)
    histories, survivors = {}, {}
    for number, (specs, ttl, model_seed, where) in enumerate(keys):
        key = 10 + 7 * number
        model = build(specs, model_seed, ttl=ttl, start=1_000_000 + 13 * number, value_base=1000 * (number + 1))
        read_at = model.ops[-1].end_ms + read_delay
        seen = model.observed_after(int(where * len(model.ops)), read_at)
        histories[key], seen = _mutate(rng, model.ops, seen)
        if seen.present or rng.random() < 0.5:  # an absent key may or may not be in the readback
            survivors[key] = Observed(seen.present, seen.value_hash, seen.expire_at_ms,
                                      read_at if rng.random() < 0.7 else None)
    if phantom:
        survivors[5] = Observed(True, 4242, 2_000_000_000)
    read_at_ms = max(op.end_ms for ops in histories.values() for op in ops) + read_delay
    fault_ms = read_at_ms - 10
    history, readback = _frames(histories, survivors)
    # the definition, on the same floats the frames give
    one_by_one = check(histories_from_frame(history), survivors_from_frame(readback), read_at_ms, fault_ms)
    at_once = check_frames(history, readback, read_at_ms, fault_ms)
    totals = {k: v for k, v in vars(at_once).items() if k != "table"}
    assert totals == {k: v for k, v in vars(one_by_one).items() if k != "table"}
    pd.testing.assert_frame_equal(at_once.verdict_frame(), one_by_one.verdict_frame())
    assert _cuts(at_once) == _cuts(one_by_one)


def _cuts(result) -> list[tuple]:
    t = result.table
    return sorted(zip(t.cut_key.tolist(), t.cut_low.tolist(), t.cut_high.tolist()))


def test_the_keys_that_cannot_branch_are_judged_at_once_and_the_others_are_left():
    """Long TTLs and no unknown outcome: every key at once. An unknown login, or a refresh whose
    expiry could lapse before the next request: that key is left to check_key."""
    recorder = HistoryRecorder()
    for key in range(1, 6):
        recorder.record(Phase.LOAD, 0, Kind.LOGIN, key, key * NS, key * NS + 500, Outcome.OK, 100 + key, LONG_TTL)
        recorder.record(Phase.LOAD, 0, Kind.REFRESH, key, 10 * NS, 10 * NS + 500, Outcome.OK, 0, LONG_TTL, 1)
    recorder.record(Phase.LOAD, 0, Kind.LOGIN, 6, NS, NS + 500, Outcome.UNKNOWN, 106, LONG_TTL)
    recorder.record(Phase.LOAD, 0, Kind.LOGIN, 7, NS, NS + 500, Outcome.OK, 107, 5)  # expires in 5 ms...
    recorder.record(Phase.LOAD, 0, Kind.READ, 7, 20 * NS, 20 * NS + 500, Outcome.OK, 0, 0, 0)  # ...before this read
    # key 8 was read the very millisecond its expiry may have come (start + TTL - 1 ms): gone is right
    recorder.record(Phase.LOAD, 0, Kind.LOGIN, 8, NS, NS + 500_000, Outcome.OK, 108, 100)
    ops = op_arrays(recorder.frame())
    readback = pd.DataFrame({"key": [1, 2, 8], "present": [True, False, False], "value_hash": [101, 0, 0],
                             "expire_at_ms": [10 + LONG_TTL, -1, -1], "read_at_ms": [np.nan, np.nan, 100.0]})
    table, left = judge_certain(ops, seen_arrays(readback).at(ops.key[ops.key_starts()]), 5_000.0)
    assert table.key.tolist() == [1, 2, 3, 4, 5, 8] and left.tolist() == [6, 7]
    assert [table.status_of(k) for k in (1, 2, 3, 8)] == ["ok", "lost", "lost", "ok"]
    assert table.lost_writes.tolist()[:3] == [0, 2, 2]
