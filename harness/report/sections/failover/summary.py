"""The failover scenario's summaries, from the typed trials frame (pure: no drawing, no text).

- `driver_summary`: one row per (server, config, ack mode, fault, client mode): medians, and
  min–max where a reader needs the spread;
- `ack_costs`: what each ack mode cost the load before the fault (throughput, latency), against
  `plain` measured in the same run;
- `app_summary`: the application load, one row per (situation, client).
"""

from __future__ import annotations

import pandas as pd

from harness import faults
from harness.workload.acks import ACK_MODES

KEYS = ("server", "config", "ack_mode", "fault", "client_mode")
ERROR_COLUMNS = ("readonly_writes", "noreplicas_writes", "masterdown_writes", "loading_writes", "other_failed_writes",
                 "timeout_writes", "dropped_writes", "unconfirmed_writes")
MEDIANS = ("acked_writes", "lost_sessions", "lost_writes", "resurrected_sessions", "holes",
           "acked_by_old_primary_after_promotion", "logins_lost_after_promotion", "split_brain_s", "failover_s",
           "downtime_s", "throughput_ops_s", "p50_ms", "p99_ms", "lag_bytes_at_fault", "refused_connects",
           "failed_lookups", "paused_s", "partitioned_s", *ERROR_COLUMNS)
SPREADS = ("lost_sessions", "failover_s", "acked_by_old_primary_after_promotion", "throughput_ops_s")
APP_KEYS = ("app_situation", "app_client")
APP_MEDIANS = ("requests", "requests_raised", "wrongly_logged_out", "longest_failure_run", "longest_failure_s",
               "first_success_s", "last_failure_s", "raised_in_last_s")
SITUATION_ORDER = {"restart": 0, "failover": 1}
CLIENT_ORDER = {"defaults": 0, "careful": 1, "lookup": 0, "subscribe": 1}


def driver_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of the harness's own load (the application trials have an `app_client`)."""
    is_app = trials["app_client"].fillna("").astype(str) != ""
    return trials[~is_app]


def app_trials(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[trials["app_client"].fillna("").astype(str) != ""]


def _distinct(values: pd.Series) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in values.dropna() if str(v) not in ("", "nan")))


def _row(keys: tuple[str, ...], values: tuple, group: pd.DataFrame) -> dict:
    row: dict = dict(zip(keys, (str(v) for v in values)))
    row["trials"] = len(group)
    for column in MEDIANS:
        numbers = pd.to_numeric(group[column], errors="coerce")
        row[column] = numbers.median()
        if column in SPREADS:
            row[f"{column}_min"], row[f"{column}_max"] = numbers.min(), numbers.max()
    row["winner"] = _distinct(group["winner"])
    row["demoted_by"] = _distinct(group["demoted_by"])
    row["restart_failed"] = int(group["restart_failed"].fillna(False).astype(bool).sum())
    row["no_failover"] = int((pd.to_numeric(group["promotion_ns"], errors="coerce").fillna(0) == 0).sum())
    return row


def _order(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    if frame.empty:
        return frame
    fault_rank = {name: i for i, name in enumerate(faults.order(frame["fault"]))} if "fault" in keys else {}
    ack_rank = {name: i for i, name in enumerate(ACK_MODES)}

    def rank(i: int) -> tuple:
        r = frame.iloc[i]
        return tuple(fault_rank.get(r[k], 99) if k == "fault" else ack_rank.get(r[k], 99) if k == "ack_mode" else
                     SITUATION_ORDER.get(r[k], CLIENT_ORDER.get(r[k], 99)) if k in ("app_situation", "app_client",
                                                                                    "client_mode") else 0
                     for k in keys)

    return frame.iloc[sorted(range(len(frame)), key=rank)].reset_index(drop=True)


def driver_summary(trials: pd.DataFrame) -> pd.DataFrame:
    driver = driver_trials(trials)
    rows = [_row(KEYS, values, group) for values, group in driver.groupby(list(KEYS), sort=False)]
    return _order(pd.DataFrame(rows), ("fault", "ack_mode", "client_mode"))


def ack_costs(trials: pd.DataFrame) -> pd.DataFrame:
    """Per ack mode, over every driver trial of the run: the load's throughput and latency before the
    fault (medians), and `plain`'s throughput beside it."""
    driver = driver_trials(trials)
    rows = []
    for mode, group in driver.groupby("ack_mode", sort=False):
        rows.append({"ack_mode": str(mode), "trials": len(group),
                     **{c: pd.to_numeric(group[c], errors="coerce").median()
                        for c in ("throughput_ops_s", "p50_ms", "p99_ms", "p999_ms")}})
    frame = _order(pd.DataFrame(rows), ("ack_mode",))
    if not frame.empty:
        plain = frame.loc[frame["ack_mode"] == "plain", "throughput_ops_s"]
        frame["plain_ops_s"] = plain.iloc[0] if len(plain) else float("nan")
    return frame


def app_summary(trials: pd.DataFrame) -> pd.DataFrame:
    apps = app_trials(trials)
    rows = []
    for values, group in apps.groupby(list(APP_KEYS), sort=False):
        row = dict(zip(APP_KEYS, (str(v) for v in values)))
        row["trials"] = len(group)
        row.update({c: pd.to_numeric(group[c], errors="coerce").median() for c in APP_MEDIANS})
        row["raised_by_error"] = _distinct(group["raised_by_error"])
        row["settings"] = _distinct(group["app_client_settings"])
        rows.append(row)
    return _order(pd.DataFrame(rows), APP_KEYS)
