"""The failover tables as the reader sees them (formatted cells; columns a run cannot fill are left out)."""

from __future__ import annotations

import pandas as pd

from harness.report import fmt
from harness.report.section import Table
from harness.report.tables import Column, any_true, formatted, several, spread, table_of

ERRORS = [("READONLY", "readonly_writes"), ("NOREPLICAS", "noreplicas_writes"), ("MASTERDOWN", "masterdown_writes"),
          ("LOADING", "loading_writes"), ("Other errors", "other_failed_writes"), ("Timeouts", "timeout_writes"),
          ("Dropped", "dropped_writes"), ("WAIT unconfirmed", "unconfirmed_writes")]


def _errors() -> list[Column]:
    return [Column(header, formatted(name, fmt.count), shown=any_true(name)) for header, name in ERRORS]


def driver_table(summary: pd.DataFrame) -> Table:
    columns = [
        Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
        Column("Config", formatted("config", fmt.plain), numeric=False, shown=several("config")),
        Column("Fault", formatted("fault", fmt.plain), numeric=False),
        Column("Ack mode", formatted("ack_mode", fmt.plain), numeric=False),
        Column("Client mode", formatted("client_mode", fmt.plain), numeric=False),
        Column("Trials", formatted("trials", fmt.count)),
        Column("Lost sessions", spread("lost_sessions", fmt.count)),
        Column("Lost writes", formatted("lost_writes", fmt.count)),
        Column("Resurrected", formatted("resurrected_sessions", fmt.count)),
        Column("Acked by old primary after promotion", spread("acked_by_old_primary_after_promotion", fmt.count)),
        Column("Of those logins lost", formatted("logins_lost_after_promotion", fmt.count)),
        Column("Split brain (s)", formatted("split_brain_s", fmt.seconds)),
        Column("Failover (s)", spread("failover_s", fmt.seconds)),
        Column("Downtime (s)", formatted("downtime_s", fmt.seconds)),
        Column("Winner", formatted("winner", fmt.plain), numeric=False),
        Column("No failover", lambda r: fmt.of(r.get("no_failover"), r.get("trials")), numeric=False,
               shown=any_true("no_failover")),
        Column("Lag at fault (bytes)", formatted("lag_bytes_at_fault", fmt.count)),
        *_errors(),
        Column("Refused connects", formatted("refused_connects", fmt.count)),
        Column("Failed lookups", formatted("failed_lookups", fmt.count), shown=any_true("failed_lookups")),
        Column("Throughput (ops/s)", spread("throughput_ops_s", fmt.rate)),
        Column("p99 (ms)", formatted("p99_ms", fmt.ms)),
        Column("Old primary's restart failed", lambda r: fmt.of(r.get("restart_failed"), r.get("trials")),
               numeric=False, shown=any_true("restart_failed")),
    ]
    return table_of(columns, summary)


def ack_table(costs: pd.DataFrame) -> Table:
    columns = [
        Column("Ack mode", formatted("ack_mode", fmt.plain), numeric=False),
        Column("Trials", formatted("trials", fmt.count)),
        Column("Throughput (ops/s)", formatted("throughput_ops_s", fmt.rate)),
        Column("Of plain", lambda r: fmt.percent_of(r.get("throughput_ops_s"), r.get("plain_ops_s")) or fmt.DASH),
        Column("p50 (ms)", formatted("p50_ms", fmt.ms)),
        Column("p99 (ms)", formatted("p99_ms", fmt.ms)),
        Column("p99.9 (ms)", formatted("p999_ms", fmt.ms)),
    ]
    return table_of(columns, costs)


def app_table(summary: pd.DataFrame) -> Table:
    columns = [
        Column("Situation", formatted("app_situation", fmt.plain), numeric=False),
        Column("Client", formatted("app_client", fmt.plain), numeric=False),
        Column("Requests", formatted("requests", fmt.count)),
        Column("Raised", formatted("requests_raised", fmt.count)),
        Column("Wrongly logged out", formatted("wrongly_logged_out", fmt.count)),
        Column("Longest failure run", formatted("longest_failure_run", fmt.count)),
        Column("Longest without success (s)", formatted("longest_failure_s", fmt.seconds)),
        Column("First success (s)", formatted("first_success_s", fmt.seconds)),
        Column("Last failure (s)", formatted("last_failure_s", fmt.seconds)),
        Column("Raised in the last second", formatted("raised_in_last_s", fmt.count)),
        Column("Errors", lambda r: fmt.text(r.get("raised_by_error")) or fmt.DASH, numeric=False),
    ]
    return table_of(columns, summary)


def trials_table(trials: pd.DataFrame) -> Table:
    columns = [
        Column("Trial", formatted("trial_id", fmt.plain), numeric=False),
        Column("Seed", formatted("seed", fmt.plain), numeric=False),
        Column("Lost sessions", formatted("lost_sessions", fmt.count)),
        Column("Acked writes", formatted("acked_writes", fmt.count)),
        Column("Acked after promotion", formatted("acked_by_old_primary_after_promotion", fmt.count)),
        Column("Failover (s)", formatted("failover_s", fmt.seconds)),
        Column("Winner", formatted("winner", fmt.plain), numeric=False),
        Column("Demoted by", formatted("demoted_by", fmt.plain), numeric=False),
        Column("Paused (s)", formatted("paused_s", fmt.seconds)),
        Column("Partitioned (s)", formatted("partitioned_s", fmt.seconds)),
        Column("Requests raised", formatted("requests_raised", fmt.count)),
        Column("Throughput (ops/s)", formatted("throughput_ops_s", fmt.rate)),
        Column("Old primary's restart error", lambda r: fmt.text(r.get("restart_error")) or fmt.DASH, numeric=False),
    ]
    return table_of(columns, trials)
