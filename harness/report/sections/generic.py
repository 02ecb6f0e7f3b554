"""The section of a scenario the report has no builder for: what its trials recorded."""

from __future__ import annotations

from pathlib import Path

from harness.report.rundata import RunData
from harness.report.section import Section
from harness.report.sections.base import ScenarioReport
from harness.report.tables import display_trials


def build(run: RunData, out_dir: Path) -> ScenarioReport:
    scenario = run.scenarios()[0]
    return ScenarioReport(
        scenario, f"{scenario}: every trial", f"The {len(run.records)} trials of scenario `{scenario}`, "
        "as trials.csv recorded them; every number was measured in this run.",
        [Section("Every trial", [display_trials(run.trials)], anchor="trials")])
