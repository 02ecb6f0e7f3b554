"""Speed figures from a history: throughput and latency percentiles of the measured load."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PERCENTILES = {"p50_ms": 50.0, "p99_ms": 99.0, "p999_ms": 99.9}


@dataclass(frozen=True)
class LoadMetrics:
    ops: int  # operations issued in the load phase
    ok_ops: int  # of those, acknowledged before the fault
    throughput_ops_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float


def load_metrics(history: pd.DataFrame, load_start_ns: int, fault_ns: int) -> LoadMetrics:
    """Acknowledged operations per second between load start and the fault, and their latency.

    Only the load phase before the fault counts: the outage is measured as recovery time,
    not smeared into the throughput.
    """
    load = history[history["phase"] == "load"]
    done = load[(load["outcome"] == "ok") & (load["end_ns"] <= fault_ns)]
    window_s = max(fault_ns - load_start_ns, 1) / 1e9
    latencies_ms = (done["end_ns"].to_numpy() - done["start_ns"].to_numpy()) / 1e6
    if len(latencies_ms):
        p50, p99, p999 = np.percentile(latencies_ms, list(PERCENTILES.values()))
    else:
        p50 = p99 = p999 = float("nan")
    return LoadMetrics(len(load), len(done), len(done) / window_s, float(p50), float(p99), float(p999))
