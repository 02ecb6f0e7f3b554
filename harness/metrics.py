"""Speed figures from a history: throughput, latency percentiles and client-observed downtime."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from hdrh.histogram import HdrHistogram

from harness.latency import Percentiles, histogram_of, latencies_us


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
