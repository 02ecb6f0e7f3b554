"""Readable tables (strings) for the HTML and Markdown: columns, the every-trial table, the environment.

A `Column` turns a row (of the typed trials frame, or of a summary) into a cell. Columns that a
run cannot fill (a restart error nobody had, a ceiling never measured) are left out rather than
shown empty. The columns a fault adds to trials.csv come from the fault's own column group
(harness.faults), shown only for the trials of a fault that records them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from harness import faults
from harness.record import Columns
from harness.report import fmt
from harness.report.section import Table

Cell = Callable[[Any], str]


@dataclass(frozen=True)
class Column:
    header: str
    cell: Cell  # row -> formatted text
    numeric: bool = True  # right-aligned
    # Whether the table shows it; None: when any row has a value (a cell other than the dash).
    shown: Callable[[pd.DataFrame], bool] | None = None


def formatted(name: str, f: fmt.Formatter) -> Cell:
    return lambda row: f(row.get(name))


def spread(name: str, f: fmt.Formatter) -> Cell:
    """'median (min–max)' from a summary's `name`, `name_min` and `name_max`."""
    return lambda row: fmt.spread(row.get(name), row.get(f"{name}_min"), row.get(f"{name}_max"), f)


def spread_if_known(name: str, f: fmt.Formatter) -> Cell:
    """A spread where the row has one (a summary row), else the value alone (a trial's row)."""
    return lambda row: fmt.spread(row.get(name), row.get(f"{name}_min"), row.get(f"{name}_max"), f) \
        if not fmt.is_missing(row.get(f"{name}_min")) else f(row.get(name))


def free_text(cell: object) -> str:
    return fmt.text(cell) or fmt.DASH


def several(column: str) -> Callable[[pd.DataFrame], bool]:
    """Shown only when the table's rows differ in `column` (a server column for a one-server run is noise)."""
    return lambda frame: column in frame.columns and frame[column].nunique(dropna=False) > 1


def any_true(column: str) -> Callable[[pd.DataFrame], bool]:
    """Shown only when some row has a positive count or a true flag in `column`."""
    return lambda frame: column in frame.columns and bool(frame[column].fillna(0).astype(float).gt(0).any())


def table_of(columns: list[Column], frame: pd.DataFrame, hide_empty: bool = True) -> Table:
    """The table of `frame` with the columns it can fill (all of them with `hide_empty=False`,
    except those whose `shown` says no)."""
    rows = [row for _, row in frame.iterrows()]

    def keep(column: Column) -> bool:
        if column.shown is not None:
            return column.shown(frame)
        return not hide_empty or any(column.cell(row) != fmt.DASH for row in rows)

    # An empty run still gets the table's first headers, so the section says what it would hold.
    present = [c for c in columns if keep(c)] or [c for c in columns if c.shown is None][:3]
    return Table([c.header for c in present], [[c.cell(row) for c in present] for row in rows],
                 [c.numeric for c in present])


# -- the columns the faults add ------------------------------------------------------------------

def _owned_by(group: type[Columns], fault: object) -> bool:
    return group in faults.groups_of(str(fault))


def fault_columns(numeric_only: bool = False) -> list[Column]:
    """A column per field of every fault's column group (its `labels` when it declares them, else
    every field), filled only in rows whose fault records that group: under a fault that cuts no
    power, 'unsynced bytes at cut' is not applicable, not zero."""
    columns = []
    for group in faults.column_groups():
        defaults = group().to_row()
        labels: dict[str, str] = getattr(group, "labels", None) or {f.name: fmt.words(f.name) for f in fields(group)}
        for name, header in labels.items():
            is_number = isinstance(defaults.get(name), (int, float)) and not isinstance(defaults.get(name), bool)
            if numeric_only and not is_number:
                continue
            show = fmt.count if is_number else free_text
            columns.append(Column(header, _fault_cell(group, name, show), numeric=is_number))
    return columns


def _fault_cell(group: type[Columns], name: str, show: fmt.Formatter) -> Cell:
    return lambda row: show(row.get(name)) if _owned_by(group, row.get("fault")) else fmt.DASH


# -- every trial ---------------------------------------------------------------------------------

def _trial_columns() -> list[Column]:
    before = [
        Column("Trial", formatted("trial_id", fmt.plain), numeric=False),
        Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
        Column("Config", formatted("config", fmt.plain), numeric=False),
        Column("Fault", formatted("fault", fmt.plain), numeric=False),
        Column("#", formatted("trial", fmt.count)),
        Column("Seed", formatted("seed", fmt.plain), numeric=False),
        Column("Restart failed", formatted("restart_failed", fmt.flag), numeric=False, shown=any_true("restart_failed")),
        Column("Acked writes", formatted("acked_writes", fmt.count)),
        Column("Lost sessions", formatted("lost_sessions", fmt.count)),
        Column("Lost writes", formatted("lost_writes", fmt.count)),
        Column("Resurrected", formatted("resurrected_sessions", fmt.count)),
        Column("Stale refreshes", formatted("stale_refreshes", fmt.count)),
        Column("Old values", formatted("old_values", fmt.count)),
        Column("Corrupt", formatted("corrupt_values", fmt.count)),
        Column("Phantom", formatted("phantom_sessions", fmt.count), shown=any_true("phantom_sessions")),
        Column("Contradictions", formatted("contradictions", fmt.count), shown=any_true("contradictions")),
        Column("Unknown ops", formatted("unknown_ops", fmt.count)),
        Column("Acked after fault", formatted("acks_after_fault", fmt.count)),
    ]
    after = [
        Column("Loss window (s)", lambda r: fmt.bracket(r.get("loss_window_min_s"), r.get("loss_window_s"),
                                                        fmt.seconds)),
        Column("Holes", formatted("holes", fmt.count), shown=any_true("holes")),
        Column("Throughput (ops/s)", formatted("throughput_ops_s", fmt.rate)),
        Column("Ceiling (ops/s)", formatted("ceiling_ops_s", fmt.rate)),
        Column("Driver/ceiling", formatted("driver_ceiling_ratio", fmt.ratio)),
        Column("p50 (ms)", formatted("p50_ms", fmt.ms)),
        Column("p95 (ms)", formatted("p95_ms", fmt.ms)),
        Column("p99 (ms)", formatted("p99_ms", fmt.ms)),
        Column("p99.9 (ms)", formatted("p999_ms", fmt.ms)),
        Column("Max (ms)", formatted("max_ms", fmt.ms)),
        Column("Fault at (s)", formatted("fault_at_s", fmt.seconds)),
        Column("Recovery (s)", formatted("recovery_s", fmt.seconds)),
        Column("Downtime (s)", formatted("downtime_s", fmt.seconds_precise)),
        Column("Restart error", formatted("restart_error", free_text), numeric=False),
    ]
    return before + fault_columns() + after


def display_trials(trials: pd.DataFrame) -> Table:
    """Every trial, one row each, in trials.csv order (the typed frame of harness.schema)."""
    return table_of(_trial_columns(), trials)


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
