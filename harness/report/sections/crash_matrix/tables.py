"""The summary as the reader sees it: one row per (server, config, fault), formatted.

The Server column appears only when the run measured several servers; "Restart failed" only
when some trial's server would not restart (a column of "0 of 3" says what the recommendation
already says). The faults' numeric columns are their own (harness.report.tables.fault_columns).
"""

from __future__ import annotations

import pandas as pd

from harness.report import fmt
from harness.report.section import Table
from harness.report.tables import Column, any_true, fault_columns, formatted, several, spread, table_of


def _summary_columns() -> list[Column]:
    before = [
        Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
        Column("Config", formatted("config", fmt.plain), numeric=False),
        Column("Fault", formatted("fault", fmt.plain), numeric=False),
        Column("Trials", formatted("trials", fmt.count)),
        Column("Restart failed", lambda r: fmt.of(r.get("restart_failed"), r.get("trials")), numeric=False,
               shown=any_true("restart_failed")),
        Column("Acked writes", formatted("acked_writes", fmt.count)),
        Column("Lost sessions", spread("lost_sessions", fmt.count)),
        Column("Lost writes", formatted("lost_writes", fmt.count)),
        Column("Resurrected", spread("resurrected_sessions", fmt.count)),
        Column("Stale refreshes", formatted("stale_refreshes", fmt.count)),
        Column("Old values", formatted("old_values", fmt.count)),
        Column("Corrupt", spread("corrupt_values", fmt.count)),
        Column("Phantom", spread("phantom_sessions", fmt.count), shown=any_true("phantom_sessions")),
        Column("Contradictions", formatted("contradictions", fmt.count), shown=any_true("contradictions")),
        Column("Unknown ops", formatted("unknown_ops", fmt.count)),
        Column("Acked after fault", formatted("acks_after_fault", fmt.count)),
    ]
    after = [
        Column("Loss window (s)", lambda r: fmt.bracket(r.get("loss_window_min_s"), r.get("loss_window_s"),
                                                        fmt.seconds)),
        Column("No single cut", lambda r: fmt.of(r.get("cut_inconsistent"), r.get("trials")), numeric=False,
               shown=any_true("cut_inconsistent")),
        Column("Holes", spread("holes", fmt.count), shown=any_true("holes")),
        Column("Throughput (ops/s)", spread("throughput_ops_s", fmt.rate)),
        Column("p50 (ms)", formatted("p50_ms", fmt.ms)),
        Column("p95 (ms)", formatted("p95_ms", fmt.ms)),
        Column("p99 (ms)", spread("p99_ms", fmt.ms)),
        Column("p99.9 (ms)", formatted("p999_ms", fmt.ms)),
        Column("Max (ms)", formatted("max_ms", fmt.ms)),
        Column("Recovery (s)", spread("recovery_s", fmt.seconds)),
        Column("Downtime (s)", spread("downtime_s", fmt.seconds_precise)),
    ]
    return before + fault_columns(numeric_only=True) + after


def display_summary(summary: pd.DataFrame) -> Table:
    return table_of(_summary_columns(), summary)
