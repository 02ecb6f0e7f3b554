"""Speed figures: percentiles against known distributions, the ceiling's arithmetic, downtime."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.ceiling import CommandResult, combine, parse_csv, requests_per_command
from harness.latency import Percentiles, decode, encode, histogram_of, time_series
from harness.checkers.speed import downtime_s, load_metrics
from harness.workload.history import HistoryRecorder
from harness.workload.session import Kind, Mix, Outcome, Phase, WorkloadParams


def test_percentiles_of_a_uniform_distribution():
    hist = histogram_of(np.arange(1, 100_001))  # 1 us .. 100 ms, uniform
    p = Percentiles.of(hist)
    assert p.count == 100_000
    assert p.p50_ms == pytest.approx(50.0, rel=2e-3)
    assert p.p95_ms == pytest.approx(95.0, rel=2e-3)
    assert p.p99_ms == pytest.approx(99.0, rel=2e-3)
    assert p.p999_ms == pytest.approx(99.9, rel=2e-3)
    assert p.max_ms == pytest.approx(100.0, rel=2e-3)


def test_percentiles_of_an_exponential_distribution():
    rng = np.random.default_rng(1)
    samples = rng.exponential(scale=1000.0, size=200_000)  # mean 1 ms, in us
    p = Percentiles.of(histogram_of(samples))
    # exact quantiles of Exp(mean=1 ms): -ln(1-q) ms
    for value, q in ((p.p50_ms, 0.5), (p.p99_ms, 0.99), (p.p999_ms, 0.999)):
        assert value == pytest.approx(-np.log(1 - q), rel=0.05)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 60_000_000), min_size=1, max_size=500))
def test_histogram_percentiles_are_within_its_precision_of_numpy(values):
    p = Percentiles.of(histogram_of(values))
    exact = np.percentile(values, 99, method="inverted_cdf") / 1000
    assert p.p99_ms == pytest.approx(exact, rel=2e-3, abs=1e-3)
    assert p.max_ms == pytest.approx(max(values) / 1000, rel=2e-3)


def test_histogram_encoding_round_trips():
    hist = histogram_of([10, 20, 30, 4000])
    again = decode(encode(hist))
    assert again.get_total_count() == 4
    assert again.get_value_at_percentile(100) == hist.get_value_at_percentile(100)


def _history(rows):
    rec = HistoryRecorder()
    for phase, kind, start, end, outcome in rows:
        rec.record(phase, 0, kind, 1, start, end, outcome)
    return rec.frame()


def test_throughput_latency_and_downtime_from_a_history():
    s = 1_000_000_000
    history = _history([
        (Phase.LOAD, Kind.READ, 0, 1_000_000, Outcome.OK),  # 1 ms
        (Phase.LOAD, Kind.READ, s // 2, s // 2 + 3_000_000, Outcome.OK),  # 3 ms
        (Phase.LOAD, Kind.LOGIN, s - 100, 2 * s, Outcome.UNKNOWN),  # in flight at the kill
        (Phase.AFTER, Kind.LOGIN, 3 * s, 3 * s + 100, Outcome.FAIL),  # LOADING
        (Phase.AFTER, Kind.LOGIN, 3 * s + 1000, 4 * s, Outcome.OK),  # first ack after the restart
    ])
    m = load_metrics(history, load_start_ns=0, fault_ns=s, restart_ns=2 * s + 1)
    assert (m.ops, m.ok_ops) == (3, 2)
    assert m.throughput_ops_s == pytest.approx(2.0)
    assert m.latency.max_ms == pytest.approx(3.0, rel=2e-3)
    assert m.downtime_s == pytest.approx(4.0 - 0.503)
    assert np.isnan(downtime_s(history[history["phase"] != "after"], restart_ns=2 * s + 1))


def test_time_series_buckets_and_gaps():
    s = 1_000_000_000
    history = _history([(Phase.LOAD, Kind.READ, 0, int(0.05 * s), Outcome.OK),
                        (Phase.LOAD, Kind.READ, 0, int(0.06 * s), Outcome.OK),
                        (Phase.AFTER, Kind.LOGIN, 0, int(0.35 * s), Outcome.OK)])
    series = time_series(history, origin_ns=0, bucket_s=0.1)
    assert list(series["t_s"].round(2)) == [0.0, 0.1, 0.2, 0.3]
    assert list(series["ops_s"]) == [20.0, 0.0, 0.0, 10.0]
    assert series["p50_ms"].isna().tolist() == [False, True, True, False]


def test_ceiling_combines_per_command_rates_as_total_requests_over_total_time():
    results = [CommandResult("login", 1000, 1000.0, 1, 2, 3, 4), CommandResult("read", 3000, 3000.0, 1, 2, 5, 9)]
    ceiling = combine(results, clients=16, tool="redis-benchmark")
    assert ceiling.ops_s == pytest.approx(4000 / 2.0)  # 1 s + 1 s for 4000 requests
    assert ceiling.p99_ms == pytest.approx((3 * 1000 + 5 * 3000) / 4000)
    assert ceiling.max_ms == 9


def test_requests_follow_the_mix_and_parse_redis_benchmark_csv():
    params = WorkloadParams(mix=Mix(login=1, read=3, refresh=0, logout=0))
    assert requests_per_command(params, 40_000) == {Kind.LOGIN: 10_000, Kind.READ: 30_000}
    out = ('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
           '"max_latency_ms"\n"GET session:bench:__rand_int__","28818.44","1.648","0.128","1.567","2.559",'
           '"3.527","6.343"\n')
    assert parse_csv(out) == {"rps": 28818.44, "p50_ms": 1.567, "p95_ms": 2.559, "p99_ms": 3.527, "max_ms": 6.343}
    with pytest.raises(ValueError):
        parse_csv("ERROR: connection refused")


def test_history_frame_keeps_every_field():
    rec = HistoryRecorder()
    rec.record(Phase.LOAD, 3, Kind.LOGIN, 42, 10, 20, Outcome.FAIL, 7, 1000, -1, "OOM command not allowed")
    rec.extend(rec.pack(Phase.AFTER, 4, Kind.READ, 43, 30, 40, Outcome.OK, 0, 0, 1, 0, 6380))  # the driver's path
    frame = rec.frame()
    assert frame.to_dict("records") == [
        {"phase": "load", "worker": 3, "kind": "login", "key": 42, "start_ns": 10, "end_ns": 20, "outcome": "fail",
         "value_hash": 7, "ttl_ms": 1000, "result": -1, "error": "OOM command not allowed", "server": 0},
        {"phase": "after", "worker": 4, "kind": "read", "key": 43, "start_ns": 30, "end_ns": 40, "outcome": "ok",
         "value_hash": 0, "ttl_ms": 0, "result": 1, "error": "", "server": 6380},
    ]
    assert isinstance(frame, pd.DataFrame)


def test_the_ceiling_takes_the_drivers_shape_and_the_saturation_a_deep_pipeline():
    from harness.ceiling import SATURATION_PIPELINE, driver_shape, measure_limits
    from harness.workload.session import WorkloadParams

    assert driver_shape(WorkloadParams()) == (8, 6)  # 50 clients over 8 connections
    assert driver_shape(WorkloadParams(concurrency=8, connections=2, users=100, baseline_sessions=10)) == (2, 4)
    assert driver_shape(WorkloadParams(concurrency=3, connections=8, users=100, baseline_sessions=10)) == (3, 1)
    calls = []

    def fake_benchmark(args):  # the arithmetic only: every test reports 10,000 or 40,000 requests/s
        calls.append(args)
        rps = 40_000 if args[args.index("-P") + 1] == str(SATURATION_PIPELINE) else 10_000
        return "redis-benchmark", f'"test","rps","p50_latency_ms"\n"x","{rps}","0.5"\n'

    limits = measure_limits(fake_benchmark, 6379, WorkloadParams(), 20_000)
    shaped, deep = calls[:4], calls[4:]
    assert all(a[a.index("-c") + 1] == "8" and a[a.index("-P") + 1] == "6" for a in shaped)
    assert all(a[a.index("-c") + 1] == "8" and a[a.index("-P") + 1] == "64" for a in deep)
    requests = lambda group: sum(int(a[a.index("-n") + 1]) for a in group)  # noqa: E731
    assert requests(deep) >= 4 * requests(shaped)
    columns = limits.columns()
    assert (columns.ceiling_ops_s, columns.saturation_ops_s, columns.ceiling_saturation_ratio) == (10_000, 40_000,
                                                                                                    0.25)
    assert (columns.ceiling_connections, columns.ceiling_pipeline, columns.saturation_pipeline) == (8, 6, 64)
