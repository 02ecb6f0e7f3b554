"""The report: a results folder in; report.html, report.md, two overview charts and one chart per trial out.

`build_report` only reads what a run left behind (trials.csv, environment.json, histories,
config copies), so a report can be rebuilt at any time without rerunning anything.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report.caveats import caveats
from harness.report.charts import latency_chart, tradeoff_chart
from harness.report.describe import describe_run
from harness.report.driver import driver_notes, driver_table, has_ceiling
from harness.report.fsync import fsync_notes
from harness.report.method import method
from harness.report.perf import trial_charts
from harness.report.recommend import recommendation
from harness.report.render import ConfigFile, ReportContext, render
from harness.report.rundata import RunData, load_run
from harness.report.tables import display_summary, display_trials, environment_items, summary_table

__all__ = ["build_report", "summary_table", "recommendation", "caveats"]

TRADEOFF_PNG = "tradeoff.png"
LATENCY_PNG = "latency.png"


def _first(trials: pd.DataFrame, column: str) -> object:
    if column not in trials.columns or trials[column].dropna().empty:
        return None
    return trials[column].dropna().iloc[0]


def _config_files(run: RunData) -> list[ConfigFile]:
    files = []
    for name, text in run.config_texts.items():
        description = None
        if "config_description" in run.trials.columns:
            rows = run.trials.loc[run.trials["config"] == name, "config_description"].dropna()
            description = str(rows.iloc[0]) if len(rows) else None
        files.append(ConfigFile(name, description, text))
    return files


def _with_trial_facts(run: RunData) -> dict:
    """environment.json, completed from trials.csv where it is silent (an older or partial run)."""
    environment = dict(run.environment)
    for key in ("duration_s", "backend", "image"):
        if environment.get(key) is None and _first(run.trials, key) is not None:
            environment[key] = _first(run.trials, key)
    return environment


def build_report(run_dir: Path) -> dict[str, Path]:
    """Write report.html, report.md, tradeoff.png, latency.png and charts/<trial_id>.png into
    `run_dir`; return their paths, keyed by their names relative to it."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    summary = summary_table(run.trials)

    tradeoff = tradeoff_chart(summary, run_dir / TRADEOFF_PNG)
    latency, chart_notes = latency_chart(run, run_dir / LATENCY_PNG)
    per_trial = trial_charts(run, run_dir)

    run_id = run.environment.get("run_id") or _first(run.trials, "run_id")
    faults = [str(f) for f in dict.fromkeys(summary["fault"].tolist())] if not summary.empty else []
    context = ReportContext(
        title="crash-matrix: acknowledged sessions lost in a crash, per persistence config",
        run_id=str(run_id) if run_id is not None else None,
        description=describe_run(run.trials, run.environment, summary),
        recommendations=recommendation(summary),
        summary=display_summary(summary),
        disk_notes=fsync_notes(run.environment, summary, run.config_texts, run.trials),
        driver=driver_table(summary) if has_ceiling(summary) else None,
        driver_notes=driver_notes(summary),
        tradeoff_png=TRADEOFF_PNG,
        latency_png=LATENCY_PNG,
        chart_notes=chart_notes,
        trial_charts=per_trial,
        method=method(run.environment, _first(run.trials, "duration_s"), _first(run.trials, "concurrency"),
                      faults=faults, ceiling=has_ceiling(summary)),
        caveats=caveats(_with_trial_facts(run), summary),
        trials=display_trials(run.trials),
        environment=environment_items(run.environment),
        configs=_config_files(run),
    )
    documents = render(context, run_dir)
    paths = {"report.html": documents["report.html"], "report.md": documents["report.md"],
             TRADEOFF_PNG: tradeoff, LATENCY_PNG: latency}
    paths.update({chart.path: run_dir / chart.path for chart in per_trial if chart.path})
    return paths
