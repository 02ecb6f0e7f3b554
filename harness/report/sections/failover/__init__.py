"""The failover scenario's part of the report: what each (config, ack mode, fault, client mode) lost,
how long the failover took, what the old primary acknowledged after another server was promoted,
what clients were told, what each ack mode cost, what an application using redis-py saw; per-trial
charts with a line per server that answered; method and caveats."""

from __future__ import annotations

from pathlib import Path

from harness.report import fmt
from harness.report.rundata import RunData
from harness.report.section import Bullets, Definitions, Paragraphs, Section
from harness.report.sections.base import ScenarioReport
from harness.report.sections.failover.charts import trial_gallery
from harness.report.sections.failover.meaning import ack_sentence, app_sentence, client_sentences, driver_sentence
from harness.report.sections.failover.method import MEASURES, app_method, caveats, steps
from harness.report.sections.failover.summary import ack_costs, app_summary, driver_summary, driver_trials
from harness.report.sections.failover.tables import ack_table, app_table, driver_table, trials_table

SCENARIO = "failover"
TITLE = "failover: what a crash, a stall or a cut link of the primary loses with Sentinel"


def console_tables(trials) -> list[tuple[str, list[str], list[list[str]]]]:
    """The console's summaries after a run: the driver's trials, and the application's."""
    tables = []
    driver = driver_summary(trials)
    if len(driver):
        tables.append(("failover: medians over trials",
                       ["fault / ack mode / client", "trials", "lost sessions", "acked by old primary after promotion",
                        "failover s", "ops/s", "p99 ms"],
                       [[f"{r['fault']} / {r['ack_mode']} / {r['client_mode']}", str(r["trials"]),
                         fmt.count(r["lost_sessions"]), fmt.count(r["acked_by_old_primary_after_promotion"]),
                         fmt.seconds(r["failover_s"]), fmt.rate(r["throughput_ops_s"]), fmt.ms(r["p99_ms"])]
                        for r in driver.to_dict("records")]))
    apps = app_summary(trials)
    if len(apps):
        tables.append(("failover: the application (redis-py)",
                       ["situation / client", "requests", "raised", "wrongly logged out", "first success s"],
                       [[f"{r['app_situation']} / {r['app_client']}", fmt.count(r["requests"]),
                         fmt.count(r["requests_raised"]), fmt.count(r["wrongly_logged_out"]),
                         fmt.seconds(r["first_success_s"])] for r in apps.to_dict("records")]))
    return tables


def _caption(row) -> str:
    if fmt.text(row.get("app_client")):
        return f"{fmt.count(row.get('requests_raised'))} raised, {fmt.count(row.get('wrongly_logged_out'))} logged out"
    return (f"{fmt.count(row.get('lost_sessions'))} lost, failover {fmt.seconds(row.get('failover_s'))} s, "
            f"{fmt.count(row.get('acked_by_old_primary_after_promotion'))} acked after promotion")


def _description(run: RunData) -> str:
    driver = driver_trials(run.trials)
    servers = ", ".join(f"`{s}`" for s in dict.fromkeys(run.trials["server"].dropna()) if s) or "the server"
    return (f"What {servers} behind Sentinel lost when its primary crashed, stalled or was cut off under a "
            f"session-store load, what `WAIT`, `WAITAOF` and `min-replicas-to-write` bought, and what clients and an "
            f"application using redis-py saw: {_trials(len(driver), 'failover trial')}"
            + (f" and {_trials(len(run.trials) - len(driver), 'application trial')}" if len(run.trials) > len(driver)
               else "") + ", every number measured in this run.")


def _trials(count: int, what: str) -> str:
    return f"{count} {what}" + ("" if count == 1 else "s")


def _results(run: RunData) -> Section:
    summary = driver_summary(run.trials)
    blocks = [Paragraphs(["Medians over trials; min–max in brackets where shown."], "note"), driver_table(summary),
              Bullets([driver_sentence(r) for _, r in summary.iterrows()], spaced=True)]
    compared = client_sentences(summary) if not summary.empty else []
    sections = [Section("Clients that look up again vs clients that subscribe", [Bullets(compared)],
                        anchor="clients")] if compared else []
    return Section("What each failover lost", blocks if not summary.empty else
                   [Paragraphs(["No failover trial finished in this run."], "aside")], anchor="results",
                   sections=sections)


def _costs(run: RunData) -> Section:
    costs = ack_costs(run.trials)
    sentences = [s for s in (ack_sentence(r) for _, r in costs.iterrows()) if s]
    return Section("What each ack mode cost", [
        Paragraphs(["Throughput and latency of the load before the fault, medians over every trial of the mode."],
                   "note"), ack_table(costs), *([Bullets(sentences)] if sentences else [])], anchor="ack-costs")


def _application(run: RunData) -> list[Section]:
    apps = app_summary(run.trials)
    if apps.empty:
        return []
    return [Section("What the application saw", [
        Paragraphs(app_method(run.trials)), app_table(apps),
        Bullets([app_sentence(r) for _, r in apps.iterrows()], spaced=True)], anchor="application")]


def build(run: RunData, out_dir: Path) -> ScenarioReport:
    gallery = trial_gallery(run, run.trials, out_dir, _caption)
    files = {item.path: out_dir / item.path for item in gallery.items if item.path}
    sections = [
        _results(run),
        _costs(run),
        *_application(run),
        Section("Charts", [gallery], anchor="charts"),
        Section("Method", [Bullets(steps(run.trials), ordered=True), Paragraphs(["What the figures mean:"]),
                           Definitions(MEASURES)], anchor="method"),
        Section("Caveats", [Bullets(caveats(run.trials, run.environment))], anchor="caveats"),
        Section("Every trial", [trials_table(run.trials)], anchor="trials"),
    ]
    return ScenarioReport(SCENARIO, TITLE, _description(run), sections, files)
