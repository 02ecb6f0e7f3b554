"""The summary table (one row per config and fault) and the readable versions of both tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from harness.report import fmt
from harness.report.faults import is_power_fault

# Medians of these, per (config, fault). Every one is a column of the summary even when
# trials.csv lacks it (NaN then), so callers can rely on the names.
MEDIAN_COLUMNS = (
    "acked_writes", "lost_sessions", "lost_writes", "resurrected_sessions", "stale_refreshes",
    "corrupt_values", "loss_window_s", "throughput_ops_s", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms",
    "ceiling_ops_s", "driver_ceiling_ratio", "ceiling_p50_ms", "ceiling_p99_ms", "recovery_s", "downtime_s",
    "unsynced_bytes_at_cut",
)
# Shown only when trials.csv has them (the checker counts them; the table is more honest with them).
OPTIONAL_MEDIAN_COLUMNS = ("old_values", "unknown_ops")
# min and max as well: the spread the reader needs to judge noise, and the worst case the
# recommendation needs (a config that lost sessions in any trial is not "zero loss").
SPREAD_COLUMNS = (
    "lost_sessions", "throughput_ops_s", "p99_ms", "recovery_s", "resurrected_sessions", "corrupt_values",
    "ceiling_ops_s", "driver_ceiling_ratio", "downtime_s",
)
# Text facts of a power-loss fault, per (config, fault): the distinct values, joined.
TEXT_COLUMNS = ("fs_metadata", "fs_writeback")


def _first_seen_rank(values: pd.Series) -> dict[str, int]:
    return {value: rank for rank, value in enumerate(dict.fromkeys(values.astype(str).tolist()))}


def _restart_failed(trials: pd.DataFrame) -> pd.Series | None:
    """Per trial, did the restart fail? None when trials.csv has no such column (an older run,
    whose harness stopped a trial whose server would not restart, so every recorded trial restarted)."""
    if "restart_failed" not in trials.columns:
        return None
    return trials["restart_failed"].map(fmt.truthy).astype(bool)


def _first_error(group: pd.DataFrame, failed: pd.Series | None) -> str | None:
    """The server's complaint from the first failed restart of the group (they rarely differ)."""
    if failed is None or "restart_error" not in group.columns:
        return None
    for value in group.loc[failed[group.index], "restart_error"]:
        if fmt.text(value):
            return fmt.text(value)
    return None


def _first_text(group: pd.DataFrame, column: str) -> str | None:
    if column not in group.columns:
        return None
    return next((fmt.text(v) for v in group[column] if fmt.text(v)), None)


def _distinct_text(group: pd.DataFrame, column: str) -> str | None:
    if column not in group.columns:
        return None
    # plain() before text(): a writeback of 5.0 seconds is written "5", as the tables write numbers.
    values = [fmt.text(fmt.plain(v)) for v in group[column] if not fmt.is_missing(v)]
    distinct = list(dict.fromkeys(v for v in values if v))
    return ", ".join(distinct) if distinct else None


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

    failed = _restart_failed(trials)
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
        # A server that would not start on what survived is an outcome of its own (the store is
        # down), so it is counted, not folded into a median. NaN: trials.csv predates the column.
        row["restart_failed"] = int(failed[group.index].sum()) if failed is not None else float("nan")
        row["restart_error"] = _first_error(group, failed)
        # Starts that only worked because the server cut a torn AOF tail (aof-load-truncated).
        row["aof_truncated"] = (int(group["aof_truncated"].map(lambda v: bool(fmt.text(v))).sum())
                                if "aof_truncated" in group.columns else float("nan"))
        # Strict metadata: namespace changes the cut dropped because their directory was never fsynced.
        row["metadata_dropped"] = (pd.to_numeric(group["metadata_dropped"], errors="coerce").median()
                                   if "metadata_dropped" in group.columns else float("nan"))
        row["metadata_dropped_detail"] = _first_text(group, "metadata_dropped_detail")
        for column in TEXT_COLUMNS:
            row[column] = _distinct_text(group, column)
        rows.append(row)

    columns = ["config", "fault", "trials"]
    for column in MEDIAN_COLUMNS + tuple(optional):
        columns.append(column)
        if column in SPREAD_COLUMNS:
            columns += [f"{column}_min", f"{column}_max"]
    columns += ["trials_without_loss", "restart_failed", "restart_error", "aof_truncated", "metadata_dropped",
                "metadata_dropped_detail", *TEXT_COLUMNS]
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


def _unsynced(row: pd.Series) -> str:
    # Bytes lost with the page cache exist only when the power was cut; under kill -9 the
    # column's 0 is "no cut", not "nothing was unsynced", so it reads as not applicable.
    return fmt.count(row.get("unsynced_bytes_at_cut")) if is_power_fault(row.get("fault")) else fmt.DASH


SUMMARY_COLUMNS = [
    Column("Config", lambda r: fmt.plain(r.get("config"))),
    Column("Fault", lambda r: fmt.plain(r.get("fault"))),
    Column("Trials", _median("trials", fmt.count)),
    Column("Restart failed", lambda r: fmt.of(r.get("restart_failed"), r.get("trials"))),
    Column("Acked writes", _median("acked_writes", fmt.count)),
    Column("Lost sessions", _spread("lost_sessions", fmt.count)),
    Column("Lost writes", _median("lost_writes", fmt.count)),
    Column("Resurrected", _spread("resurrected_sessions", fmt.count)),
    Column("Stale refreshes", _median("stale_refreshes", fmt.count)),
    Column("Old values", _median("old_values", fmt.count)),
    Column("Corrupt", _spread("corrupt_values", fmt.count)),
    Column("Unknown ops", _median("unknown_ops", fmt.count)),
    Column("Unsynced bytes at cut", _unsynced),
    Column("Loss window (s)", _median("loss_window_s", fmt.seconds)),
    Column("Throughput (ops/s)", _spread("throughput_ops_s", fmt.rate)),
    Column("p50 (ms)", _median("p50_ms", fmt.ms)),
    Column("p95 (ms)", _median("p95_ms", fmt.ms)),
    Column("p99 (ms)", _spread("p99_ms", fmt.ms)),
    Column("p99.9 (ms)", _median("p999_ms", fmt.ms)),
    Column("Max (ms)", _median("max_ms", fmt.ms)),
    Column("Recovery (s)", _spread("recovery_s", fmt.seconds)),
    Column("Downtime (s)", _spread("downtime_s", fmt.seconds_precise)),
]


def _cell(name: str, f: fmt.Formatter) -> Callable[[pd.Series], str]:
    return lambda row: f(row.get(name))


TRIAL_COLUMNS = [
    Column("Trial", _cell("trial_id", fmt.plain)),
    Column("Config", _cell("config", fmt.plain)),
    Column("Fault", _cell("fault", fmt.plain)),
    Column("#", _cell("trial", fmt.count)),
    Column("Seed", _cell("seed", fmt.plain)),
    Column("Restart failed", _cell("restart_failed", fmt.flag)),
    Column("Acked writes", _cell("acked_writes", fmt.count)),
    Column("Lost sessions", _cell("lost_sessions", fmt.count)),
    Column("Lost writes", _cell("lost_writes", fmt.count)),
    Column("Resurrected", _cell("resurrected_sessions", fmt.count)),
    Column("Stale refreshes", _cell("stale_refreshes", fmt.count)),
    Column("Old values", _cell("old_values", fmt.count)),
    Column("Corrupt", _cell("corrupt_values", fmt.count)),
    Column("Unknown ops", _cell("unknown_ops", fmt.count)),
    Column("Unsynced bytes at cut", _unsynced),
    Column("FS metadata", _cell("fs_metadata", fmt.plain)),
    Column("FS writeback (s)", _cell("fs_writeback", fmt.plain)),
    Column("Loss window (s)", _cell("loss_window_s", fmt.seconds)),
    Column("Throughput (ops/s)", _cell("throughput_ops_s", fmt.rate)),
    Column("Ceiling (ops/s)", _cell("ceiling_ops_s", fmt.rate)),
    Column("Driver/ceiling", _cell("driver_ceiling_ratio", fmt.ratio)),
    Column("p50 (ms)", _cell("p50_ms", fmt.ms)),
    Column("p95 (ms)", _cell("p95_ms", fmt.ms)),
    Column("p99 (ms)", _cell("p99_ms", fmt.ms)),
    Column("p99.9 (ms)", _cell("p999_ms", fmt.ms)),
    Column("Max (ms)", _cell("max_ms", fmt.ms)),
    Column("Kill at (s)", _cell("kill_at_s", fmt.seconds)),
    Column("Recovery (s)", _cell("recovery_s", fmt.seconds)),
    Column("Downtime (s)", _cell("downtime_s", fmt.seconds_precise)),
    Column("Restart error", _cell("restart_error", lambda v: fmt.text(v) or fmt.DASH)),
]
_TEXT_HEADERS = {"Config", "Fault", "Trial", "Seed", "Restart failed", "FS metadata", "Restart error"}


def _table(columns: list[Column], frame: pd.DataFrame, keep: int) -> Table:
    # Columns the data cannot fill (an old trials.csv without old_values, a kill -9 run's
    # restart errors) are left out, not shown empty.
    present = [c for c in columns if not all(c.cell(row) == fmt.DASH for _, row in frame.iterrows())]
    present = present or columns[:keep]
    rows = [[c.cell(row) for c in present] for _, row in frame.iterrows()]
    return Table([c.header for c in present], rows, [c.header not in _TEXT_HEADERS for c in present])


def display_summary(summary: pd.DataFrame) -> Table:
    return _table(SUMMARY_COLUMNS, summary, 3)


def display_trials(trials: pd.DataFrame) -> Table:
    return _table(TRIAL_COLUMNS, trials, 3)


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
