"""What the time charts plot: each trial's frame of reference and its per-100-ms series.

Pure data, no matplotlib, so the overview (latency.png) and the per-trial charts plot the
same numbers. Buckets come from `harness.latency.time_series` (by completion time: an
acknowledgement counts when the client got it), from load start on, the `after` phase included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.latency import time_series
from harness.report import fmt
from harness.report.faults import fault_order

BUCKET_S = 0.1
MIN_LATENCY_MS = 1e-3  # a log axis cannot show 0 ms; clock granularity can produce it
MAX_MARKS = 3000  # unknown/failed operations drawn per chart; more only slow the drawing down


@dataclass(frozen=True)
class Panel:
    """One trial, as a time chart needs it: who, which fault, and when things happened."""

    config: str
    trial_id: str
    fault: str
    load_start_ns: float  # NaN: take it from the history
    kill_at_s: float
    ready_at_s: float  # for a failed restart: when the harness gave up, not a ready server
    restart_failed: bool = False
    trial: int = 1


def _float(row: pd.Series, name: str) -> float:
    value = row.get(name)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def trial_panel(row: pd.Series) -> Panel:
    config = str(row.get("config", "?"))
    fault = str(row.get("fault", "kill9")) if not fmt.is_missing(row.get("fault")) else "kill9"
    trial = int(_float(row, "trial")) if not fmt.is_missing(row.get("trial")) else 1
    load_start = _float(row, "load_start_ns")
    kill_at, ready_at = _float(row, "kill_at_s"), _float(row, "ready_at_s")
    # Older rows may carry only the wall-clock stamps; derive the offsets from them.
    if fmt.is_missing(kill_at) and not fmt.is_missing(load_start):
        kill_at = (_float(row, "kill_ns") - load_start) / 1e9
    if fmt.is_missing(ready_at) and not fmt.is_missing(load_start):
        ready_at = (_float(row, "ready_ns") - load_start) / 1e9
    trial_id = fmt.text(row.get("trial_id")) or f"{config}__{fault}__{trial}"
    return Panel(config, trial_id, fault, load_start, kill_at, ready_at, fmt.truthy(row.get("restart_failed")),
                 trial)


def all_panels(trials: pd.DataFrame) -> list[Panel]:
    """Every trial, in trials.csv order."""
    if trials.empty:
        return []
    return [trial_panel(row) for _, row in trials.iterrows()]


def choose_panels(trials: pd.DataFrame) -> list[Panel]:
    """The first trial (by trial number) of each (config, fault), configs then faults in first-seen order."""
    panels = all_panels(trials)
    first: dict[tuple[str, str], Panel] = {}
    for panel in panels:
        key = (panel.config, panel.fault)
        if key not in first or panel.trial < first[key].trial:
            first[key] = panel
    configs = list(dict.fromkeys(p.config for p in panels))
    faults = fault_order([p.fault for p in panels])
    return [first[(c, f)] for c in configs for f in faults if (c, f) in first]


@dataclass(frozen=True)
class LatencySeries:
    bucket_s: np.ndarray  # bucket starts, seconds since load start
    ops_s: np.ndarray  # acknowledged operations per second in the bucket (0 in the outage)
    p50_ms: np.ndarray  # NaN where a bucket had no acknowledgement, so lines break there
    p99_ms: np.ndarray
    unknown_s: np.ndarray  # unknown-outcome operations: when they were sent, how long the client waited
    unknown_ms: np.ndarray
    failed_s: np.ndarray  # error replies, likewise
    failed_ms: np.ndarray
    unknown: int  # totals (the marks may be thinned out)
    failed: int

    @property
    def centres_s(self) -> np.ndarray:
        return self.bucket_s + BUCKET_S / 2

    @property
    def empty(self) -> bool:
        return len(self.bucket_s) == 0 and self.unknown == 0 and self.failed == 0


def _thin(values: np.ndarray, limit: int = MAX_MARKS) -> np.ndarray:
    """Every k-th mark: evenly spread over time, so clusters still read as clusters."""
    return values if len(values) <= limit else values[:: int(np.ceil(len(values) / limit))]


def latency_series(history: pd.DataFrame, load_start_ns: float) -> LatencySeries:
    """Per-100-ms throughput and p50/p99 latency of acknowledged operations, from load start onwards.

    Unknown and failed operations are placed at the moment the client sent them, at the height
    of how long it waited: a request sent just before the fault shows where the user was left hanging.
    """
    # Compare categoricals directly: astype(str) on a 100k-row history costs more than the plot.
    history = history[(history["phase"] != "baseline").to_numpy()]
    if fmt.is_missing(load_start_ns):
        load_start_ns = float(history["start_ns"].min()) if len(history) else 0.0
    origin = int(load_start_ns)
    series = time_series(history, origin, BUCKET_S)

    unknown = (history["outcome"] == "unknown").to_numpy()
    failed = (history["outcome"] == "fail").to_numpy()
    start = history["start_ns"].to_numpy(dtype="int64")
    waited = np.maximum((history["end_ns"].to_numpy(dtype="int64") - start) / 1e6, MIN_LATENCY_MS)
    sent = (start - origin) / 1e9
    return LatencySeries(
        series["t_s"].to_numpy(dtype=float),
        series["ops_s"].to_numpy(dtype=float),
        np.maximum(series["p50_ms"].to_numpy(dtype=float), MIN_LATENCY_MS),
        np.maximum(series["p99_ms"].to_numpy(dtype=float), MIN_LATENCY_MS),
        _thin(sent[unknown]), _thin(waited[unknown]), _thin(sent[failed]), _thin(waited[failed]),
        int(unknown.sum()), int(failed.sum()),
    )
