"""The eviction summary: one row per (server, policy config, other data), and what it means.

Medians over trials; the sentences are rules over the measured rows (never an expectation): a
policy that evicted sessions, one that refused logins, one that did neither.
"""

from __future__ import annotations

import pandas as pd

from harness.report import fmt
from harness.report.groups import grouped
from harness.report.section import Table
from harness.report.tables import Column, formatted, several, spread, table_of

KEYS = ("server", "config", "other_data")
MEDIANS = ("sessions_logged_in", "sessions_evicted", "reads_session_gone", "reads_gone_unexplained",
           "logins_refused_oom", "other_evicted", "other_writes", "other_refused_oom", "memory_full_at_s",
           "used_memory_bytes", "used_memory_peak_bytes", "maxmemory_bytes", "evictions_notified",
           "evictions_counted", "evictions_unseen", "evicted_returned", "lost_sessions", "contradictions",
           "throughput_ops_s", "p50_ms", "p99_ms", "max_ms", "other_ops_s")
SPREADS = ("sessions_evicted", "logins_refused_oom", "other_evicted", "throughput_ops_s", "p99_ms")


def summary(trials: pd.DataFrame) -> pd.DataFrame:
    return grouped(trials, KEYS, MEDIANS, SPREADS, firsts=("maxmemory_policy", "fault"))


def megabytes(value: object) -> str:
    return fmt.DASH if fmt.is_missing(value) else f"{float(value) / 1024**2:,.1f}"


def _columns() -> list[Column]:
    return [
        Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
        Column("Policy", formatted("config", fmt.plain), numeric=False),
        Column("Other data", formatted("other_data", fmt.plain), numeric=False),
        Column("Trials", formatted("trials", fmt.count)),
        Column("Sessions", formatted("sessions_logged_in", fmt.count)),
        Column("Sessions evicted", spread("sessions_evicted", fmt.count)),
        Column("Users who found their session gone", formatted("reads_session_gone", fmt.count)),
        Column("Logins refused (OOM)", spread("logins_refused_oom", fmt.count)),
        Column("Other keys evicted", spread("other_evicted", fmt.count)),
        Column("Other writes refused (OOM)", formatted("other_refused_oom", fmt.count)),
        Column("Memory full at (s)", formatted("memory_full_at_s", fmt.seconds)),
        Column("Used / limit (MB)", lambda r: f"{megabytes(r.get('used_memory_bytes'))} / "
                                              f"{megabytes(r.get('maxmemory_bytes'))}"),
        Column("Lost (crash)", formatted("lost_sessions", fmt.count)),
        Column("Session ops/s", spread("throughput_ops_s", fmt.rate)),
        Column("p99 (ms)", spread("p99_ms", fmt.ms)),
        Column("Evictions notified / counted", lambda r: f"{fmt.count(r.get('evictions_notified'))} / "
                                                         f"{fmt.count(r.get('evictions_counted'))}"),
    ]


def display_summary(rows: pd.DataFrame) -> Table:
    return table_of(_columns(), rows)


def console_rows(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = ["policy", "other data", "sessions evicted", "logins refused", "other evicted", "ops/s", "p99 ms"]
    body = [[str(r["config"]), str(r["other_data"]), fmt.count(r["sessions_evicted"]),
             fmt.count(r["logins_refused_oom"]), fmt.count(r["other_evicted"]), fmt.rate(r["throughput_ops_s"]),
             fmt.ms(r["p99_ms"])] for _, r in rows.iterrows()]
    return headers, body


# -- what it means ---------------------------------------------------------------------------------

def _share(part: object, whole: object) -> str:
    share = fmt.percent_of(float(part), float(whole)) if not fmt.is_missing(part) else None
    return f" ({share} of the {fmt.count(whole)} sessions)" if share else ""


def row_sentence(row: pd.Series) -> str:
    """What one policy did to a session store beside this other data, in the measured numbers."""
    what = f"**{row['config']}**, other data {'with' if row['other_data'] == 'ttl' else 'without'} TTLs"
    evicted, refused, other = row["sessions_evicted"], row["logins_refused_oom"], row["other_evicted"]
    full = f" from {fmt.seconds(row['memory_full_at_s'])} s on" if not fmt.is_missing(row["memory_full_at_s"]) else ""
    if evicted > 0:
        text = (f"{what}: the server evicted {fmt.count(evicted)} sessions of logged-in users"
                f"{_share(evicted, row['sessions_logged_in'])} and {fmt.count(other)} other keys; "
                f"{fmt.count(row['reads_session_gone'])} users found their session gone on their next request: "
                "logged out by the server's choice, with no crash")
        if refused > 0:
            text += f", and {fmt.count(refused)} logins were refused (-OOM) once no key it may evict was left"
        return text + "."
    if refused > 0:
        return (f"{what}: nothing was evicted; {fmt.count(refused)} logins were refused with -OOM{full}: "
                "users could not log in while memory was full (sessions already there stayed).")
    return (f"{what}: no session evicted and no login refused; the server evicted {fmt.count(other)} other keys "
            "instead.")


def advice(rows: pd.DataFrame) -> list[str]:
    """What to set instead, from which rows kept every session and every login."""
    safe = rows[(rows["sessions_evicted"] == 0) & (rows["logins_refused_oom"] == 0)]
    lines = []
    if len(safe):
        cells = ", ".join(f"`{r['config']}` with other data {r['other_data']}" for _, r in safe.iterrows())
        lines.append(f"Kept every session and every login here: {cells}. That holds only while the other data "
                     "can be evicted first: it depends on what else is in the server and on which keys carry TTLs, "
                     "not on the policy alone.")
    else:
        lines.append("No policy kept every session and every login while the other data grew.")
    lines.append("For a session store, give sessions a server (or a maxmemory) of their own, sized so it never "
                 "fills; if they must share one, use a policy that can only evict the other data (`volatile-*` "
                 "with TTLs on the other data, or `volatile-ttl` with the other data's TTLs shorter than the "
                 "sessions') and check it here with your own data: `volatile-lru` evicts sessions first when "
                 "they are the only keys with a TTL.")
    return lines
