"""What the time charts plot: each trial's frame of reference and its per-100-ms series.

Pure data, no matplotlib, so the overview (latency.png) and the per-trial charts plot the
same numbers. Buckets come from `harness.latency.time_series` (by completion time: an
acknowledgement counts when the client got it), from load start on, the `after` phase included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import faults
from harness.latency import time_series
from harness.record import Restart, Times, TrialRecord
from harness.report import fmt

BUCKET_S = 0.1
MIN_LATENCY_MS = 1e-3  # a log axis cannot show 0 ms; clock granularity can produce it
MAX_MARKS = 3000  # unknown/failed operations drawn per chart; more only slow the drawing down


@dataclass(frozen=True)
class Panel:
    """One trial, as a time chart needs it: who, which fault, and when things happened."""

    server: str
    config: str
    trial_id: str
    fault: str
    trial: int
    load_start_ns: int  # 0: not recorded, take it from the history
    fault_at_s: float
    ready_at_s: float  # for a failed restart: when the harness gave up, not a ready server
    restart_failed: bool = False

    @classmethod
    def of(cls, record: TrialRecord) -> Panel:
        identity, times = record.identity, record[Times]
        return cls(identity.server, identity.config, identity.trial_id, identity.fault, identity.trial,
                   times.load_start_ns, times.fault_at_s, times.ready_at_s, record[Restart].restart_failed)


def all_panels(records: list[TrialRecord]) -> list[Panel]:
    """Every trial, in trials.csv order."""
    return [Panel.of(record) for record in records]


def choose_panels(records: list[TrialRecord]) -> list[Panel]:
    """The first trial (by trial number) of each (server, config, fault): servers, then configs in
    first-seen order, faults gentlest first."""
    panels = all_panels(records)
    first: dict[tuple[str, str, str], Panel] = {}
    for panel in panels:
        key = (panel.server, panel.config, panel.fault)
        if key not in first or panel.trial < first[key].trial:
            first[key] = panel
    servers = list(dict.fromkeys(p.server for p in panels))
    configs = list(dict.fromkeys(p.config for p in panels))
    fault_names = faults.order(p.fault for p in panels)
    return [first[key] for key in ((s, c, f) for s in servers for c in configs for f in fault_names) if key in first]


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
    if fmt.is_missing(load_start_ns) or load_start_ns <= 0:  # not recorded: the first operation's start
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
