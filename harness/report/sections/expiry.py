"""The expiry scenario's part of the report: what a restart after a downtime did to session TTLs,
per persistence config; zombies called out like resurrected logouts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report import fmt
from harness.report.groups import grouped
from harness.report.rundata import RunData
from harness.report.section import Bullets, Paragraphs, Section, Table
from harness.report.sections.base import ScenarioReport
from harness.report.tables import Column, formatted, several, table_of
from harness.report.tables import spread_if_known as spread

SCENARIO = "expiry"
TITLE = "Expiry across downtime: what a restart does to session TTLs, per persistence config"
KEYS = ("server", "config", "fault")
MEDIANS = ("alive_at_fault", "expired_in_downtime", "expired_in_downtime_gone", "alive_at_read",
           "alive_at_read_present", "zombie_sessions", "expired_early", "ttl_longer", "ttl_shorter",
           "expired_on_load", "lost_sessions", "stale_refreshes", "stayed_down_s", "ttl_s", "recovery_s")
SPREADS = ("zombie_sessions", "expired_early", "lost_sessions")


def summary(trials: pd.DataFrame) -> pd.DataFrame:
    return grouped(trials, KEYS, MEDIANS, SPREADS, firsts=("loaded_from",))


def _of(part: str, whole: str):
    return lambda r: fmt.of(r.get(part), r.get(whole))


def display_summary(rows: pd.DataFrame) -> Table:
    return table_of([
        Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
        Column("Config", formatted("config", fmt.plain), numeric=False),
        Column("Fault", formatted("fault", fmt.plain), numeric=False),
        Column("Trials", formatted("trials", fmt.count)),
        Column("Down (s)", formatted("stayed_down_s", fmt.seconds)),
        Column("Expired while down: gone", _of("expired_in_downtime_gone", "expired_in_downtime"), numeric=False),
        Column("Alive at the readback: present", _of("alive_at_read_present", "alive_at_read"), numeric=False),
        Column("Zombies", spread("zombie_sessions", fmt.count)),
        Column("Expired early", spread("expired_early", fmt.count)),
        Column("TTL longer", formatted("ttl_longer", fmt.count)),
        Column("TTL shorter", formatted("ttl_shorter", fmt.count)),
        Column("Lost", spread("lost_sessions", fmt.count)),
        Column("Restart loaded", formatted("loaded_from", fmt.plain), numeric=False),
        Column("Found expired on load", formatted("expired_on_load", lambda v: fmt.DASH if fmt.is_missing(v) or
                                                  float(v) < 0 else fmt.count(v))),
    ], rows)


def row_sentence(row: pd.Series) -> str:
    what = f"**{row['config']}**"
    parts = [f"{fmt.count(row['expired_in_downtime_gone'])} of {fmt.count(row['expired_in_downtime'])} sessions "
             "whose expiry passed while the server was down were gone after the restart"]
    if row["zombie_sessions"] > 0:
        parts.append(f"**{fmt.count(row['zombie_sessions'])} zombies**: sessions present after their absolute "
                     "expiry, a security problem like a resurrected logout")
    if row["alive_at_read"] > 0:
        parts.append(f"{fmt.count(row['alive_at_read_present'])} of {fmt.count(row['alive_at_read'])} sessions "
                     "whose expiry lay ahead were there")
    if row["expired_early"] > 0:
        parts.append(f"{fmt.count(row['expired_early'])} expired early: a lost refresh brought back an older "
                     "expiry that had passed, so their users were logged out before the time the application set")
    if row["ttl_shorter"] > 0:
        parts.append(f"{fmt.count(row['ttl_shorter'])} came back with a shorter TTL than last written")
    if row["ttl_longer"] > 0:
        parts.append(f"{fmt.count(row['ttl_longer'])} came back with a longer TTL than any write set")
    return f"{what}: " + "; ".join(parts) + "."


def advice(rows: pd.DataFrame) -> list[str]:
    if rows.empty:
        return []
    zombies = rows["zombie_sessions"].fillna(0).sum()
    early = rows[rows["expired_early"] > 0]
    lines = [("No zombie in any config: a TTL is stored as an absolute time, so a session whose expiry passed "
              "while the server was down stays expired after the restart, whatever the persistence."
              if zombies == 0 else
              f"{fmt.count(zombies)} zombies: sessions outlived their absolute expiry; see the configs above.")]
    if len(early):
        names = ", ".join(f"`{c}`" for c in early["config"])
        lines.append(f"Early expiry ({names}): a refresh is a write like any other; where it is lost, so is the "
                     "user's extra time. Use an AOF (`appendfsync everysec` or `always`) if refreshes must survive "
                     "a crash; with RDB alone a restart brings back the expiry of the last snapshot.")
    return lines


def method(environment: dict) -> list[str]:
    return [
        "Start the server on the config; log in the baseline sessions with a TTL of "
        f"{fmt.count(environment.get('ttl_s'))} s and persist them (BGSAVE and/or BGREWRITEAOF).",
        "Run the session load (each login and refresh sets the TTL again, so remaining TTLs at the fault spread "
        "from 0 to the TTL); crash the server at a random moment.",
        f"Stay down {fmt.plain(environment.get('downtime_s'))} s, restart on what survived, read back every session "
        "with its absolute expiry (`PEXPIRETIME`).",
        "Judge each session against the expiry every execution of its history allows (the durability checker's "
        "exact states): expired while down and gone, alive and present, zombie, expired early, TTL longer or "
        "shorter.",
    ]


def _facts(run: RunData) -> dict:
    return run.environment.get("scenarios", {}).get(SCENARIO) or run.environment


def console_table(trials) -> tuple[str, list[str], list[list[str]]]:
    rows = summary(trials)
    body = [[str(r["config"]), f"{fmt.count(r['expired_in_downtime_gone'])}/{fmt.count(r['expired_in_downtime'])}",
             fmt.count(r["zombie_sessions"]), fmt.count(r["expired_early"]), fmt.count(r["lost_sessions"])]
            for _, r in rows.iterrows()]
    headers = ["config", "expired while down: gone", "zombies", "expired early", "lost"]
    return "expiry: medians over trials", headers, body


def build(run: RunData, out_dir: Path) -> ScenarioReport:
    rows, facts = summary(run.trials), _facts(run)
    description = (f"{len(run.trials)} trials: sessions with a {fmt.count(facts.get('ttl_s'))} s TTL, a crash, the "
                   f"server down {fmt.plain(facts.get('downtime_s'))} s (longer than some sessions had left, shorter "
                   "than others), a restart, every session's presence and expiry checked against the absolute expiry "
                   "its history set. Every number was measured in this run.")
    sections = [
        Section("What it means for a session store", [Bullets([row_sentence(r) for _, r in rows.iterrows()],
                                                              spaced=True), Paragraphs(advice(rows))],
                anchor="meaning"),
        Section("Summary per config", [Paragraphs(["Median over trials; min–max in brackets."], "note"),
                                       display_summary(rows)], anchor="summary"),
        Section("Method", [Bullets(method(facts), ordered=True)], anchor="method"),
        Section("Every trial", [display_summary(grouped(run.trials, ("trial_id", "server", "config", "fault"),
                                                         MEDIANS, firsts=("loaded_from",)))], anchor="trials"),
    ]
    return ScenarioReport(SCENARIO, TITLE, description, sections)
