"""The summary table (one row per config and fault) and the readable versions of both tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from harness.report import fmt

# Medians of these, per (config, fault).
MEDIAN_COLUMNS = (
    "acked_writes", "lost_sessions", "lost_writes", "resurrected_sessions", "stale_refreshes",
    "corrupt_values", "loss_window_s", "throughput_ops_s", "p50_ms", "p99_ms", "p999_ms", "recovery_s",
)
# Shown only when trials.csv has them (the checker counts them; the table is more honest with them).
OPTIONAL_MEDIAN_COLUMNS = ("old_values", "unknown_ops")
# min and max as well: the spread the reader needs to judge noise, and the worst case the
# recommendation needs (a config that lost sessions in any trial is not "zero loss").
SPREAD_COLUMNS = (
    "lost_sessions", "throughput_ops_s", "p99_ms", "recovery_s", "resurrected_sessions", "corrupt_values",
)


def _first_seen_rank(values: pd.Series) -> dict[str, int]:
    return {value: rank for rank, value in enumerate(dict.fromkeys(values.astype(str).tolist()))}


def summary_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (config, fault): trial count, medians, min/max spreads.

    Rows follow the order in which configs first appear in trials.csv (the order the run
    chose), faults within a config likewise. A metric missing from trials.csv becomes NaN
    rather than an error, so older or partial results still summarise.
    """
    trials = trials.copy()
    if "config" not in trials.columns:
        trials["config"] = "?"
    if "fault" not in trials.columns:
        trials["fault"] = "kill9"  # results written before faults were a column had only kill -9
    trials["config"] = trials["config"].astype(str)
    trials["fault"] = trials["fault"].astype(str)
    numeric = list(dict.fromkeys(MEDIAN_COLUMNS + OPTIONAL_MEDIAN_COLUMNS + SPREAD_COLUMNS))
    for column in numeric:
        if column in trials.columns:
            trials[column] = pd.to_numeric(trials[column], errors="coerce")
        elif column not in OPTIONAL_MEDIAN_COLUMNS:
            trials[column] = float("nan")
    optional = [c for c in OPTIONAL_MEDIAN_COLUMNS if c in trials.columns]

    rows = []
    for (config, fault), group in trials.groupby(["config", "fault"], sort=False):
        row: dict[str, object] = {"config": config, "fault": fault, "trials": len(group)}
        for column in MEDIAN_COLUMNS + tuple(optional):
            row[column] = group[column].median()
            if column in SPREAD_COLUMNS:
                row[f"{column}_min"] = group[column].min()
                row[f"{column}_max"] = group[column].max()
        # "lost 0 sessions in 2 of 3 trials" needs the count, not only the spread.
        row["trials_without_loss"] = int((group["lost_sessions"] == 0).sum())
        rows.append(row)

    columns = ["config", "fault", "trials"]
    for column in MEDIAN_COLUMNS + tuple(optional):
        columns.append(column)
        if column in SPREAD_COLUMNS:
            columns += [f"{column}_min", f"{column}_max"]
    columns.append("trials_without_loss")
    summary = pd.DataFrame(rows, columns=columns)
    if summary.empty:
        return summary
    config_rank = _first_seen_rank(trials["config"])
    fault_rank = _first_seen_rank(trials["fault"])
    order = sorted(range(len(summary)), key=lambda i: (config_rank[summary.at[i, "config"]],
                                                       fault_rank[summary.at[i, "fault"]]))
    return summary.iloc[order].reset_index(drop=True)


# -- readable tables (strings) for the HTML and Markdown ---------------------------------------

@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[pd.Series], str]


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-align these columns


def _median(name: str, f: fmt.Formatter) -> Callable[[pd.Series], str]:
    return lambda row: f(row.get(name))


def _spread(name: str, f: fmt.Formatter) -> Callable[[pd.Series], str]:
    return lambda row: fmt.spread(row.get(name), row.get(f"{name}_min"), row.get(f"{name}_max"), f)


SUMMARY_COLUMNS = [
    Column("Config", lambda r: fmt.plain(r.get("config"))),
    Column("Fault", lambda r: fmt.plain(r.get("fault"))),
    Column("Trials", _median("trials", fmt.count)),
    Column("Acked writes", _median("acked_writes", fmt.count)),
    Column("Lost sessions", _spread("lost_sessions", fmt.count)),
    Column("Lost writes", _median("lost_writes", fmt.count)),
    Column("Resurrected", _spread("resurrected_sessions", fmt.count)),
    Column("Stale refreshes", _median("stale_refreshes", fmt.count)),
    Column("Old values", _median("old_values", fmt.count)),
    Column("Corrupt", _spread("corrupt_values", fmt.count)),
    Column("Unknown ops", _median("unknown_ops", fmt.count)),
    Column("Loss window (s)", _median("loss_window_s", fmt.seconds)),
    Column("Throughput (ops/s)", _spread("throughput_ops_s", fmt.rate)),
    Column("p50 (ms)", _median("p50_ms", fmt.ms)),
    Column("p99 (ms)", _spread("p99_ms", fmt.ms)),
    Column("p99.9 (ms)", _median("p999_ms", fmt.ms)),
    Column("Recovery (s)", _spread("recovery_s", fmt.seconds)),
]

TRIAL_COLUMNS = [
    ("trial_id", "Trial", fmt.plain),
    ("config", "Config", fmt.plain),
    ("fault", "Fault", fmt.plain),
    ("trial", "#", fmt.count),
    ("seed", "Seed", fmt.plain),
    ("acked_writes", "Acked writes", fmt.count),
    ("lost_sessions", "Lost sessions", fmt.count),
    ("lost_writes", "Lost writes", fmt.count),
    ("resurrected_sessions", "Resurrected", fmt.count),
    ("stale_refreshes", "Stale refreshes", fmt.count),
    ("old_values", "Old values", fmt.count),
    ("corrupt_values", "Corrupt", fmt.count),
    ("unknown_ops", "Unknown ops", fmt.count),
    ("loss_window_s", "Loss window (s)", fmt.seconds),
    ("throughput_ops_s", "Throughput (ops/s)", fmt.rate),
    ("p50_ms", "p50 (ms)", fmt.ms),
    ("p99_ms", "p99 (ms)", fmt.ms),
    ("p999_ms", "p99.9 (ms)", fmt.ms),
    ("kill_at_s", "Kill at (s)", fmt.seconds),
    ("recovery_s", "Recovery (s)", fmt.seconds),
]
_TEXT_HEADERS = {"Config", "Fault", "Trial", "Seed"}


def display_summary(summary: pd.DataFrame) -> Table:
    # Columns the data cannot fill (an old trials.csv without old_values) are left out, not shown empty.
    present = [c for c in SUMMARY_COLUMNS if not all(c.cell(row) == fmt.DASH for _, row in summary.iterrows())]
    present = present or SUMMARY_COLUMNS[:3]
    rows = [[c.cell(row) for c in present] for _, row in summary.iterrows()]
    return Table([c.header for c in present], rows, [c.header not in _TEXT_HEADERS for c in present])


def display_trials(trials: pd.DataFrame) -> Table:
    columns = [(name, header, f) for name, header, f in TRIAL_COLUMNS if name in trials.columns]
    rows = [[f(row[name]) for name, _, f in columns] for _, row in trials.iterrows()]
    headers = [header for _, header, _ in columns]
    return Table(headers, rows, [h not in _TEXT_HEADERS for h in headers])


def environment_items(environment: dict) -> list[tuple[str, str]]:
    """Flat 'key: value' pairs; nested dicts become dotted keys, lists are joined."""
    items: list[tuple[str, str]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            if not value:
                items.append((prefix, "{}"))
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (list, tuple)):
            items.append((prefix, ", ".join(fmt.plain(v) for v in value)))
        else:
            items.append((prefix, fmt.DASH if value is None or value == "" else str(value)))

    walk("", environment)
    return items
