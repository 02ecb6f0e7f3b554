"""Servers compared: where the same config under the same fault differed between servers beyond
the spread of their trials, and which (server, config) pairs were not run, with the reason.

Pure: summary (and environment.json's `skipped`) in, sentences out. A difference is only said
when the min–max ranges of the two servers' trials do not overlap and each has more than one
trial; anything else is within what this shared machine's noise can do.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import pandas as pd

from harness import faults
from harness.report import fmt


@dataclass(frozen=True)
class Metric:
    column: str
    more: str  # what the server with the larger figure did
    unit: str
    show: fmt.Formatter


METRICS = (
    Metric("lost_sessions", "lost more acknowledged sessions", "", fmt.count),
    Metric("throughput_ops_s", "ran faster", " ops/s", fmt.rate),
    Metric("p99_ms", "had a higher p99 latency", " ms", fmt.ms),
    Metric("recovery_s", "took longer to recover", " s", fmt.seconds),
)


def _range(row: pd.Series, m: Metric) -> str:
    return (f"{m.show(row[m.column])}{m.unit}, {m.show(row[m.column + '_min'])}{fmt.DASH}"
            f"{m.show(row[m.column + '_max'])} over {int(row['trials'])} trials")


def _apart(high: pd.Series, low: pd.Series, m: Metric) -> bool:
    """`high`'s smallest trial above `low`'s largest, each with a spread to judge by."""
    values = [high[m.column + "_min"], low[m.column + "_max"]]
    if any(fmt.is_missing(v) for v in values) or min(high["trials"], low["trials"]) < 2:
        return False
    return float(values[0]) > float(values[1])


def _differences(group: pd.DataFrame, phrase: str) -> list[str]:
    sentences = []
    config = group["config"].iloc[0]
    for m in METRICS:
        if f"{m.column}_min" not in group.columns:
            continue
        for (_, a), (_, b) in combinations(group.iterrows(), 2):
            high, low = (a, b) if _apart(a, b, m) else (b, a) if _apart(b, a, m) else (None, None)
            if high is None:
                continue
            sentences.append(f"Under {phrase}, `{config}` {m.more} on `{high['server']}` ({_range(high, m)}) than on "
                             f"`{low['server']}` ({_range(low, m)}): the ranges do not overlap.")
    return sentences


def _measured_on_several(summary: pd.DataFrame) -> list[pd.DataFrame]:
    groups = [g for _, g in summary.groupby(["config", "fault"], sort=False) if g["server"].nunique() > 1]
    rank = {name: i for i, name in enumerate(faults.order(summary["fault"]))}
    return sorted(groups, key=lambda g: rank[g["fault"].iloc[0]])  # gentlest fault first, configs as listed


def server_comparison(summary: pd.DataFrame) -> list[str]:
    """Sentences for a run that measured several servers (none for one server)."""
    if summary.empty or summary["server"].nunique() < 2:
        return []
    groups = _measured_on_several(summary)
    if not groups:
        return ["No config ran under the same fault on more than one server, so nothing here compares servers."]
    sentences = [s for g in groups for s in _differences(g, faults.info(str(g["fault"].iloc[0])).phrase)]
    if sentences:
        return sentences
    if all(int(t) < 2 for g in groups for t in g["trials"]):
        return ["With one trial per server, config and fault there is no spread to tell a difference between servers "
                "from noise: rerun with more trials to compare them."]
    return ["Where the same config ran under the same fault on several servers, no figure (lost sessions, "
            "throughput, p99 latency, recovery time) differed beyond the min–max range of their trials."]


def skipped_notes(environment: dict) -> list[str]:
    """The (server, config) pairs the run did not measure, in the server's own words."""
    notes = []
    for skip in environment.get("skipped") or []:
        if not isinstance(skip, dict):
            continue
        what = f"`{skip.get('config')}` on " if skip.get("config") else ""
        notes.append(f"Not run: {what}`{skip.get('server')}`: {skip.get('reason')}.")
    return notes
