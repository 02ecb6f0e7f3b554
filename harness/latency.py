"""Latency as people read it: HdrHistogram percentiles, and time series for the perf plots.

HdrHistogram (the `hdrhistogram` package, the reference implementation's Python port) is what
redis-benchmark and memtier report from; its encoded form is stored with the results so other
tools (HistogramLogAnalyzer, hdrh in any language) can read it. Values are microseconds,
1 us to 60 s, 3 significant digits (0.1% relative error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000
SIGNIFICANT_DIGITS = 3
REPORTED = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0, "p999_ms": 99.9}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def histogram_of(latencies_us) -> HdrHistogram:
    """A histogram of latencies in microseconds (values are clamped into the trackable range)."""
    hist = new_histogram()
    values = np.clip(np.asarray(latencies_us, dtype=np.int64), LOWEST_US, HIGHEST_US)
    unique, counts = np.unique(values, return_counts=True)  # one record call per distinct value
    for value, count in zip(unique.tolist(), counts.tolist()):
        hist.record_value(value, count)
    return hist


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @classmethod
    def of(cls, hist: HdrHistogram) -> "Percentiles":
        if hist.get_total_count() == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan)
        values = {name: hist.get_value_at_percentile(p) / 1000 for name, p in REPORTED.items()}
        return cls(hist.get_total_count(), max_ms=hist.get_max_value() / 1000, **values)


def encode(hist: HdrHistogram) -> str:
    """The standard compressed, base64 HdrHistogram encoding."""
    return hist.encode().decode()


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode())


def latencies_us(ops: pd.DataFrame) -> np.ndarray:
    return (ops["end_ns"].to_numpy() - ops["start_ns"].to_numpy()) // 1000


def time_series(history: pd.DataFrame, origin_ns: int, bucket_s: float = 0.1) -> pd.DataFrame:
    """Per time bucket (by completion time): acknowledged ops/s and p50/p99 latency in ms."""
    ok = history[history["outcome"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=["t_s", "ops_s", "p50_ms", "p99_ms"])
    t = (ok["end_ns"].to_numpy() - origin_ns) / 1e9
    bucket = np.floor(t / bucket_s).astype(np.int64)
    latency_ms = (ok["end_ns"].to_numpy() - ok["start_ns"].to_numpy()) / 1e6
    frame = pd.DataFrame({"bucket": bucket, "latency_ms": latency_ms})
    grouped = frame.groupby("bucket")["latency_ms"]
    out = pd.DataFrame({
        "ops_s": grouped.size() / bucket_s,
        "p50_ms": grouped.quantile(0.5),
        "p99_ms": grouped.quantile(0.99),
    })
    full = pd.RangeIndex(out.index.min(), out.index.max() + 1)
    out = out.reindex(full)  # empty buckets (the outage) are gaps, with 0 ops/s
    out["ops_s"] = out["ops_s"].fillna(0.0)
    out.insert(0, "t_s", out.index * bucket_s)
    return out.reset_index(drop=True)
