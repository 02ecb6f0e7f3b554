"""The speed checker: throughput, latency percentiles and client-observed downtime from a history."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from hdrh.histogram import HdrHistogram

from harness.checkers.base import Checker, Evidence, Verdict
from harness.latency import Percentiles, encode, histogram_of, latencies_us
from harness.record import NAN, Columns

HISTOGRAM_FILE = "histogram.hdr"


@dataclass(frozen=True)
class LoadMetrics:
    ops: int  # operations issued in the load phase
    ok_ops: int  # of those, acknowledged before the fault
    throughput_ops_s: float
    latency: Percentiles  # of the acknowledged load-phase operations
    histogram: HdrHistogram
    downtime_s: float  # last acknowledgement before the fault to the first one after the restart


def load_metrics(history: pd.DataFrame, load_start_ns: int, fault_ns: int, restart_ns: int) -> LoadMetrics:
    """Acknowledged operations per second between load start and the fault, and their latency.

    Only the load phase before the fault counts: the outage is measured as recovery time and
    downtime, not smeared into the throughput.
    """
    load = history[history["phase"] == "load"]
    done = load[(load["outcome"] == "ok") & (load["end_ns"] <= fault_ns)]
    window_s = max(fault_ns - load_start_ns, 1) / 1e9
    hist = histogram_of(latencies_us(done))
    return LoadMetrics(len(load), len(done), len(done) / window_s, Percentiles.of(hist), hist,
                       downtime_s(history, restart_ns))


def downtime_s(history: pd.DataFrame, restart_ns: int) -> float:
    """What a client saw: from its last acknowledged operation before the crash to the first
    acknowledged one after the restart (NaN when the server never came back).

    Split at the restart call, not at the moment the fault was ordered: requests still
    answered while the kill was on its way belong before the outage, and nothing can be
    answered between the crash and the restart.
    """
    ok_end = history.loc[history["outcome"] == "ok", "end_ns"]
    before = ok_end[ok_end <= restart_ns]
    after = ok_end[ok_end > restart_ns]
    if before.empty or after.empty:
        return float("nan")
    return (after.min() - before.max()) / 1e9


@dataclass(frozen=True)
class Speed(Columns):
    """What the load achieved before the fault, and what a client saw of the outage."""

    ops: int = 0
    throughput_ops_s: float = NAN
    driver_ceiling_ratio: float = NAN  # below 0.8: the load generator, not the server, set the pace
    p50_ms: float = NAN
    p95_ms: float = NAN
    p99_ms: float = NAN
    p999_ms: float = NAN
    max_ms: float = NAN
    downtime_s: float = NAN


class SpeedChecker(Checker):
    name = "speed"
    columns = Speed

    def check(self, evidence: Evidence) -> Verdict:
        times = evidence.times
        speed = load_metrics(evidence.history, times.load_start_ns, times.fault_ns, times.restart_ns)
        ceiling = evidence.ceiling_ops_s
        latency = speed.latency
        columns = Speed(
            ops=speed.ops, throughput_ops_s=round(speed.throughput_ops_s, 1),
            driver_ceiling_ratio=round(speed.throughput_ops_s / ceiling, 3) if ceiling > 0 else NAN,
            p50_ms=round(latency.p50_ms, 3), p95_ms=round(latency.p95_ms, 3), p99_ms=round(latency.p99_ms, 3),
            p999_ms=round(latency.p999_ms, 3), max_ms=round(latency.max_ms, 3),
            downtime_s=round(speed.downtime_s, 4),
        )
        return Verdict(columns, files={HISTOGRAM_FILE: encode(speed.histogram) + "\n"})
