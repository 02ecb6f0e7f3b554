"""The crash matrix's part of the report: recommendation, summary, driver against server, charts,
method, caveats and every trial, all from the run's records (harness.schema) and environment.
"""

from __future__ import annotations

from pathlib import Path

from harness import faults
from harness.report.perf import trial_gallery
from harness.report.rundata import RunData
from harness.report.section import Bullets, Definitions, Figure, Paragraphs, Section
from harness.report.sections.base import ScenarioReport
from harness.report.sections.crash_matrix.caveats import caveats
from harness.report.sections.crash_matrix.describe import describe_run
from harness.report.sections.crash_matrix.driver import driver_notes, driver_table, has_ceiling
from harness.report.sections.crash_matrix.fsync import fsync_notes
from harness.report.sections.crash_matrix.hosts import comparison_notes, hosts_section
from harness.report.sections.crash_matrix.latency import latency_chart
from harness.report.sections.crash_matrix.loss_bound import loss_bound_section
from harness.report.sections.crash_matrix.per_fault import fault_sections
from harness.report.sections.crash_matrix.method import Method, method
from harness.report.sections.crash_matrix.recommend import recommendation
from harness.report.sections.crash_matrix.servers import server_comparison, skipped_notes
from harness.report.sections.crash_matrix.summary import summary_table
from harness.report.sections.crash_matrix.tables import display_summary
from harness.report.sections.crash_matrix.tradeoff import tradeoff_chart
from harness.report.tables import display_trials

__all__ = ["SCENARIO", "build", "summary_table", "recommendation", "caveats"]

SCENARIO = "crash-matrix"
TITLE = "crash-matrix: acknowledged sessions lost in a crash, per persistence config"
TRADEOFF_PNG = "tradeoff.png"
LATENCY_PNG = "latency.png"
DRIVER_INTRO = ("Each trial first measured the server's ceiling with `redis-benchmark` (same server, the session "
                "mix, the driver's connections and requests in flight per connection) and its saturation (a deep "
                "pipeline). A driver well below the ceiling measured itself, not the server; a ceiling well below "
                "the saturation says the load's shape left the server capacity.")
TRADEOFF_CAPTION = ("Throughput against acknowledged sessions lost (median, bars min–max; the vertical axis is linear "
                    "near 0 and logarithmic above).")
LATENCY_CAPTION = ("Latency of acknowledged operations per 100 ms (p50 and p99, by completion time) in the first "
                   "trial of each config and fault; crosses are operations whose outcome is unknown, placed when "
                   "they were sent; the grey band is the outage from the fault to ready (red: the restart failed).")


FAULTS_INTRO = ("Per fault and config, read from the server (INFO, its log) and from what clients got: how the server "
                "reacted, the error replies by prefix, how acknowledgements came while the fault acted (from the fault "
                "until the server stopped or the fault was over), what the checker found lost or corrupt. Medians "
                "over trials.")


def _paragraphs(texts: list[str], style: str = "body") -> list[Paragraphs]:
    return [Paragraphs(texts, style)] if texts else []  # type: ignore[arg-type]


def _with_trial_facts(run: RunData) -> dict:
    """environment.json, completed from trials.csv where it is silent (an older or partial run)."""
    environment = dict(run.environment)
    for key in ("duration_s", "backend", "image"):
        if environment.get(key) is None and run.first(key) not in (None, ""):
            environment[key] = run.first(key)
    return environment


def _charts(run: RunData, summary, out_dir: Path) -> tuple[Section, dict[str, Path]]:
    tradeoff = tradeoff_chart(summary, out_dir / TRADEOFF_PNG)
    latency, notes = latency_chart(run, out_dir / LATENCY_PNG)
    gallery = trial_gallery(run, out_dir)
    files = {TRADEOFF_PNG: tradeoff, LATENCY_PNG: latency}
    files.update({item.path: out_dir / item.path for item in gallery.items if item.path})
    section = Section("Charts", [
        Figure(TRADEOFF_PNG, "Measured throughput against acknowledged sessions lost, per config", TRADEOFF_CAPTION),
        Figure(LATENCY_PNG, "Measured latency around the fault, one panel per config and fault", LATENCY_CAPTION),
        *_paragraphs(notes, "aside"),
    ], anchor="charts", sections=[Section("Every trial", [gallery], anchor="trial-charts")])
    return section, files


def _servers_section(summary, environment: dict) -> list[Section]:
    """Servers compared, when the run measured several or skipped some (a config a server refused)."""
    compared, skipped = server_comparison(summary), skipped_notes(environment)
    if not compared and not skipped:
        return []
    blocks = ([Bullets(compared, spaced=True)] if compared else []) + _paragraphs(skipped, "aside")
    return [Section("Servers compared", blocks, anchor="servers")]


def _shape(run: RunData) -> tuple[int, int, int] | None:
    """The ceiling's connections and depth and the saturation's depth (None: trials from before them)."""
    shaped = run.trials[run.trials["ceiling_connections"].fillna(0) > 0]
    if shaped.empty:
        return None
    row = shaped.iloc[0]
    return int(row["ceiling_connections"]), int(row["ceiling_pipeline"]), int(row["saturation_pipeline"])


def _method_blocks(steps: Method) -> list:
    return [Paragraphs(["Each trial:"]), Bullets(steps.steps, ordered=True),
            Paragraphs(["What the figures mean:"]), Definitions(steps.measures),
            Paragraphs(["The checker's categories, per session:"]), Definitions(steps.categories)]


def _faults_part(run: RunData) -> list[Section]:
    """A section per fault (what the server did, what clients saw, what was lost), and what bounded each loss."""
    per_fault = fault_sections(run.trials)
    bound = loss_bound_section(run.trials, run.config_texts)
    parts = [Section("What each fault did", [Paragraphs([FAULTS_INTRO], "note")], anchor="faults",
                     sections=per_fault)] if per_fault else []
    return parts + ([bound] if bound is not None else [])


def build(run: RunData, out_dir: Path) -> ScenarioReport:
    summary = summary_table(run.trials)
    ceiling = has_ceiling(summary)
    charts, files = _charts(run, summary, out_dir)
    concurrency = run.first("concurrency")
    steps = method(run.environment, faults.order(run.trials["fault"]), run.first("duration_s"),
                   concurrency if concurrency else None, ceiling=ceiling, shape=_shape(run))  # 0: not recorded
    sections = [
        Section("Recommendation", [Bullets(recommendation(summary), spaced=True)], anchor="recommendation"),
        Section("Summary per server, config and fault" if summary["server"].nunique() > 1 else
                "Summary per config and fault", [
            Paragraphs(["Median over trials; min–max in brackets where shown."], "note"), display_summary(summary),
            *_paragraphs(comparison_notes(run.environment, run.trials), "note"),
            *_paragraphs(fsync_notes(run.environment, summary, run.config_texts, run.trials))], anchor="summary"),
        *_servers_section(summary, run.environment),
        *([hosts] if (hosts := hosts_section(run.environment, run.trials)) else []),
        Section("Driver against server", [
            Paragraphs([DRIVER_INTRO], "note"), *([driver_table(summary)] if ceiling else []),
            *_paragraphs(driver_notes(summary))], anchor="driver"),
        *_faults_part(run),
        charts,
        Section("Method", _method_blocks(steps), anchor="method"),
        Section("Caveats", [Bullets(caveats(_with_trial_facts(run), run.trials))], anchor="caveats"),
        Section("Every trial", [display_trials(run.trials)], anchor="trials"),
    ]
    return ScenarioReport(SCENARIO, TITLE, describe_run(run.trials, run.environment, summary), sections, files)
