"""What a scenario contributes to a run's report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.report.rundata import RunData
from harness.report.section import Section


@dataclass(frozen=True)
class ScenarioReport:
    """One scenario's part of the report, and the files it drew for it."""

    scenario: str
    title: str  # the report's title when this is the run's only scenario
    description: str  # what was measured: the report's opening paragraph, or the part's own
    sections: list[Section]
    files: dict[str, Path] = field(default_factory=dict)  # drawn files, by their path relative to the report


# run (only this scenario's trials), the folder to draw into -> its part of the report
Builder = Callable[[RunData, Path], ScenarioReport]
