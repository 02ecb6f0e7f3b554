"""The summary: one row per (server, config, fault), from the typed trials frame.

Every trial column is guaranteed by the schema (harness.schema.records_frame), so the summary
only aggregates: medians, min/max spreads, counts of outcomes, and each fault's own columns for
the trials of the faults that record them. Rows: servers, then configs, in first-seen order,
faults gentlest first (harness.faults.order).
"""

from __future__ import annotations

import pandas as pd

from harness import faults
from harness.record import Columns
from harness.report import fmt

KEYS = ("server", "config", "fault")
# Medians of these, per (server, config, fault).
MEDIAN_COLUMNS = (
    "acked_writes", "lost_sessions", "lost_writes", "resurrected_sessions", "stale_refreshes", "old_values",
    "corrupt_values", "phantom_sessions", "contradictions", "unknown_ops", "acks_after_fault", "holes",
    "loss_window_min_s", "loss_window_s", "throughput_ops_s", "p50_ms", "p95_ms", "p99_ms", "p999_ms",
    "max_ms", "ceiling_ops_s", "driver_ceiling_ratio", "ceiling_p50_ms", "ceiling_p99_ms", "saturation_ops_s",
    "ceiling_saturation_ratio", "ceiling_connections", "ceiling_pipeline", "saturation_pipeline", "recovery_s",
    "downtime_s",
)
# min and max as well: the spread the reader needs to judge noise, and the worst case the
# recommendation needs (a config that lost sessions in any trial is not "zero loss").
SPREAD_COLUMNS = (
    "lost_sessions", "throughput_ops_s", "p99_ms", "recovery_s", "resurrected_sessions", "corrupt_values",
    "phantom_sessions", "holes", "ceiling_ops_s", "driver_ceiling_ratio", "saturation_ops_s",
    "ceiling_saturation_ratio", "downtime_s",
)
OUTCOME_COLUMNS = ("trials_without_loss", "restart_failed", "restart_error", "aof_truncated", "cut_inconsistent")


def _fault_fields() -> list[tuple[type[Columns], str, bool]]:
    """(group, column, is a number) for every column a fault adds to trials.csv."""
    found, seen = [], set()
    for group in faults.column_groups():
        for name, default in group().to_row().items():
            if name not in seen:  # two groups may share a column (one column in trials.csv)
                seen.add(name)
                found.append((group, name, isinstance(default, (int, float)) and not isinstance(default, bool)))
    return found


def summary_columns() -> list[str]:
    columns = [*KEYS, "trials"]
    for column in MEDIAN_COLUMNS:
        columns.append(column)
        if column in SPREAD_COLUMNS:
            columns += [f"{column}_min", f"{column}_max"]
    return columns + list(OUTCOME_COLUMNS) + [name for _, name, _ in _fault_fields()]


def _medians(group: pd.DataFrame) -> dict[str, object]:
    row: dict[str, object] = {}
    for column in MEDIAN_COLUMNS:
        row[column] = group[column].median()
        if column in SPREAD_COLUMNS:
            row[f"{column}_min"] = group[column].min()
            row[f"{column}_max"] = group[column].max()
    return row


def _outcomes(group: pd.DataFrame) -> dict[str, object]:
    failed = group["restart_failed"].astype(bool)
    errors = [fmt.text(e) for e in group.loc[failed, "restart_error"]]
    return {
        # "lost 0 sessions in 2 of 3 trials" needs the count, not only the spread.
        "trials_without_loss": int((group["lost_sessions"] == 0).sum()),
        # A server that would not start on what survived is an outcome of its own (the store is
        # down), so it is counted, not folded into a median.
        "restart_failed": int(failed.sum()),
        # The server's complaint from the first failed restart of the group (they rarely differ).
        "restart_error": next((e for e in errors if e), None),
        # Starts that only worked because the server cut a torn AOF tail (aof-load-truncated).
        "aof_truncated": int(group["aof_truncated"].map(lambda v: bool(fmt.text(v))).sum()),
        # Survivors no single moment explains: a torn file, a lost manifest update, a failover.
        "cut_inconsistent": int((~group["cut_consistent"].map(fmt.truthy)).sum()),
    }


def _distinct_text(values: pd.Series) -> str | None:
    # plain() before text(): a number kept as text is written as the tables write numbers.
    distinct = list(dict.fromkeys(t for t in (fmt.text(fmt.plain(v)) for v in values.dropna()) if t))
    return ", ".join(distinct) if distinct else None


def _fault_facts(fault: str, group: pd.DataFrame) -> dict[str, object]:
    """The fault's own columns (median of a number, distinct values of a text), only under a fault
    that records them: under kill -9 there was no cut, so no 'unsynced bytes at cut' to count."""
    owned = faults.groups_of(fault)
    row: dict[str, object] = {}
    for kind, name, is_number in _fault_fields():
        if kind not in owned:
            row[name] = float("nan") if is_number else None
        else:
            row[name] = pd.to_numeric(group[name], errors="coerce").median() if is_number else \
                _distinct_text(group[name])
    return row


def _ordered(summary: pd.DataFrame) -> pd.DataFrame:
    rank = {key: {v: i for i, v in enumerate(dict.fromkeys(summary[key]))} for key in ("server", "config")}
    fault_rank = {name: i for i, name in enumerate(faults.order(summary["fault"]))}
    order = sorted(range(len(summary)), key=lambda i: (rank["server"][summary.at[i, "server"]],
                                                       rank["config"][summary.at[i, "config"]],
                                                       fault_rank[summary.at[i, "fault"]]))
    return summary.iloc[order].reset_index(drop=True)


def summary_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (server, config, fault) of the typed trials frame: trial count, medians, min/max
    spreads, outcome counts and the faults' own facts."""
    rows = []
    for (server, config, fault), group in trials.groupby(list(KEYS), sort=False):
        row: dict[str, object] = {"server": str(server), "config": str(config), "fault": str(fault),
                                  "trials": len(group)}
        row.update(_medians(group))
        row.update(_outcomes(group))
        row.update(_fault_facts(str(fault), group))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=summary_columns())
    return summary if summary.empty else _ordered(summary)
