"""Judging expectations against a run's trials: pure, the typed trials frame in, outcomes out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from harness.expectations.model import Expectation, selects

PASSED, FAILED, NOT_MEASURED = "passed", "failed", "not measured"


@dataclass(frozen=True)
class TrialValue:
    trial_id: str
    value: float  # the checked column (NaN: not measured)
    right: float  # what it was compared with (the number, or the other column's value)


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    status: str  # passed | failed | not measured (no trial of the run was selected)
    selected: list[TrialValue] = field(default_factory=list)
    failing: list[TrialValue] = field(default_factory=list)  # over "all": the trials that broke it
    median: float = math.nan  # over "median": the median of the selected trials' values

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def _number(value: object) -> float:
    """A cell as a number: flags as 0/1, missing or text as NaN."""
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _values(expectation: Expectation, rows: list[dict]) -> list[TrialValue]:
    check = expectation.check
    return [TrialValue(str(row.get("trial_id")), _number(row.get(check.column)),
                       check.number if check.other is None else _number(row.get(check.other)))
            for row in rows if selects(expectation, row)]


def judge(expectation: Expectation, rows: list[dict]) -> Outcome:
    selected = _values(expectation, rows)
    if not selected:
        return Outcome(expectation, NOT_MEASURED)
    check = expectation.check
    if expectation.over == "median":
        measured = [t for t in selected if not math.isnan(t.value) and not math.isnan(t.right)]
        if not measured:
            return Outcome(expectation, FAILED, selected, median=math.nan)
        median = float(pd.Series([t.value for t in measured]).median())
        right = float(pd.Series([t.right for t in measured]).median())
        return Outcome(expectation, PASSED if check.holds(median, right) else FAILED, selected, median=median)
    failing = [t for t in selected if not check.holds(t.value, t.right)]
    return Outcome(expectation, FAILED if failing else PASSED, selected, failing)


def evaluate(expectations: list[Expectation], trials: pd.DataFrame) -> list[Outcome]:
    rows = trials.to_dict("records")
    return [judge(expectation, rows) for expectation in expectations]


def any_failed(outcomes: list[Outcome]) -> bool:
    return any(outcome.failed for outcome in outcomes)
