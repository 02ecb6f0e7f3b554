"""The restart pitfalls' part of the report: turning the AOF on in the file vs the safe path, and
a restart without the data volume, in the crash matrix's vocabulary (lost sessions)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import faults
from harness.report import fmt
from harness.report.groups import grouped
from harness.report.rundata import RunData
from harness.report.section import Bullets, Definitions, Paragraphs, Section, Table
from harness.report.sections.base import ScenarioReport
from harness.report.tables import Column, formatted, free_text, several, table_of
from harness.report.tables import spread_if_known as spread

SCENARIO = "pitfalls"
TITLE = "Restart pitfalls: sessions lost without a crash"
KEYS = ("server", "config", "fault")
MEDIANS = ("keys_before_stop", "dataset_keys", "lost_sessions", "acked_writes", "lost_writes", "stop_s",
           "aof_rewrite_s", "keys_loaded", "recovery_s", "resurrected_sessions")
ADVICE = {
    "appendonly-edit": ("never turn `appendonly yes` on by editing the file of a server that holds data: on start "
                        "the server loads the AOF, and there is none"),
    "appendonly-safe": "`CONFIG SET appendonly yes`, wait until `aof_rewrite_in_progress` is 0, then edit the file",
    "lost-volume": ("mount the data directory (`/data` in the images) as a volume that outlives the container, "
                    "and check after a recreate that `DBSIZE` is what it was"),
}


def summary(trials: pd.DataFrame) -> pd.DataFrame:
    return grouped(trials, KEYS, MEDIANS, ("lost_sessions",), firsts=("loaded_from", "config_edit"))


def display_summary(rows: pd.DataFrame) -> Table:
    return table_of([
        Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
        Column("Pitfall", formatted("fault", fmt.plain), numeric=False),
        Column("Config", formatted("config", fmt.plain), numeric=False),
        Column("Trials", formatted("trials", fmt.count)),
        Column("Edit", formatted("config_edit", free_text), numeric=False),
        Column("Keys before", formatted("keys_before_stop", fmt.count)),
        Column("Sessions lost", spread("lost_sessions", fmt.count)),
        Column("Came back", formatted("dataset_keys", fmt.count)),
        Column("Restart loaded", formatted("loaded_from", fmt.plain), numeric=False),
        Column("Stop (s)", formatted("stop_s", fmt.seconds)),
        Column("AOF rewrite (s)", formatted("aof_rewrite_s", fmt.seconds)),
        Column("Recovery (s)", formatted("recovery_s", fmt.seconds)),
    ], rows)


def row_sentence(row: pd.Series) -> str:
    fault = faults.info(str(row["fault"]))
    lost, back = row["lost_sessions"], row["dataset_keys"]
    loaded = fmt.plain(row.get("loaded_from"))
    verdict = (f"lost {fmt.count(lost)} sessions ({fmt.count(back)} came back; the restart loaded {loaded})"
               if lost > 0 else f"lost no session ({fmt.count(back)} came back; the restart loaded {loaded})")
    tip = ADVICE.get(str(row["fault"]))
    return f"{fault.phrase[:1].upper()}{fault.phrase[1:]} on `{row['config']}`: {verdict}." + (
        f" What to do: {tip}." if tip else "")


def console_table(trials) -> tuple[str, list[str], list[list[str]]]:
    rows = summary(trials)
    body = [[str(r["fault"]), str(r["config"]), fmt.count(r["lost_sessions"]), fmt.count(r["dataset_keys"]),
             fmt.plain(r["loaded_from"])] for _, r in rows.iterrows()]
    return "pitfalls: medians over trials", ["pitfall", "config", "sessions lost", "came back", "restart loaded"], body


def build(run: RunData, out_dir: Path) -> ScenarioReport:
    rows = summary(run.trials)
    names = list(dict.fromkeys(str(f) for f in run.trials["fault"]))
    description = (f"{len(run.trials)} trials: a server with an RDB dataset under the session load, then what an "
                   "operator does: turn the AOF on (two ways) and restart, or restart on a fresh data directory. "
                   "Every stop is a clean SIGTERM (the server saves first); the sessions are then judged as after a "
                   "crash. Every number was measured in this run.")
    sections = [
        Section("What it means for a session store", [Bullets([row_sentence(r) for _, r in rows.iterrows()],
                                                              spaced=True)], anchor="meaning"),
        Section("Summary per pitfall", [Paragraphs(["Median over trials; min–max in brackets."], "note"),
                                        display_summary(rows)], anchor="summary"),
        Section("Method", [Definitions([(f"`{n}`", faults.info(n).description) for n in names])], anchor="method"),
        Section("Every trial", [display_summary(grouped(run.trials, ("trial_id", *KEYS), MEDIANS,
                                                         firsts=("loaded_from", "config_edit")))], anchor="trials"),
    ]
    return ScenarioReport(SCENARIO, TITLE, description, sections)
