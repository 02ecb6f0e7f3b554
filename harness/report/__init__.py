"""The report: a results folder in; report.html, report.md and the charts its sections draw out.

`build_report` only reads what a run left behind (trials.csv, environment.json, histories,
config copies), so a report can be rebuilt at any time without rerunning anything. One report
per run: the run's frame (title, what was measured, environment, config files) around one part
per scenario in trials.csv (harness.report.sections).
"""

from __future__ import annotations

from pathlib import Path

from harness.expectations.evaluate import Outcome
from harness.expectations.run import judge_run
from harness.report.expectations import expectations_section
from harness.report.render import render_document
from harness.report.rundata import RunData, config_files, load_run
from harness.report.section import Document, Paragraphs, Section, nested
from harness.report.sections import ScenarioReport, build_scenarios
from harness.report.sections.crash_matrix import caveats, recommendation, summary_table
from harness.report.tables import environment_items

__all__ = ["build_report", "summary_table", "recommendation", "caveats", "document"]


def document(run: RunData, parts: list[ScenarioReport], outcomes: list[Outcome] | None = None) -> Document:
    """The report of a run. One scenario: its title, description and sections are the report's.
    Several: a section per scenario, its own sections one heading level down. Expectations, when
    the run has them, open it."""
    run_id = run.environment.get("run_id") or run.first("run_id")
    frame = dict(run_id=str(run_id) if run_id else None, environment=environment_items(run.environment),
                 configs=config_files(run))
    first = [expectations_section(outcomes)] if outcomes is not None else []
    if len(parts) == 1:
        return Document(parts[0].title, description=parts[0].description, sections=first + parts[0].sections,
                        **frame)
    sections = [Section(part.title, [Paragraphs([part.description])], anchor=part.scenario,
                        sections=nested(part.scenario, part.sections)) for part in parts]
    names = ", ".join(f"`{part.scenario}`" for part in parts)
    return Document(f"Run {run_id}: {len(parts)} scenarios", description=f"This run measured the scenarios {names}; "
                    "each has its own part below. Every number in this report was measured in this run.",
                    sections=first + sections, **frame)


def build_report(run_dir: Path) -> dict[str, Path]:
    """Write report.html, report.md and every chart the sections draw into `run_dir`; return their
    paths, keyed by their names relative to it."""
    run = load_run(Path(run_dir))
    parts = build_scenarios(run, run.run_dir)
    outcomes = judge_run(run.run_dir, run.trials)  # also writes junit.xml
    paths = render_document(document(run, parts, outcomes), run.run_dir)
    for part in parts:
        paths.update(part.files)
    return paths
