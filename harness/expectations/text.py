"""Outcomes in words, the same in the report, junit.xml and the console."""

from __future__ import annotations

import math

from harness.expectations.evaluate import FAILED, NOT_MEASURED, Outcome, TrialValue

MAX_LISTED = 12  # failing trials named one by one; the rest are counted


def value_text(value: float) -> str:
    if math.isnan(value):
        return "not measured"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def _trial(t: TrialValue, column: str) -> str:
    return f"{t.trial_id} ({column} {value_text(t.value)})"


def failing_trials(outcome: Outcome) -> str:
    """'a__kill9__1 (lost_sessions 3), ... and 4 more' for over=all; the median for over=median."""
    column = outcome.expectation.check.column
    if outcome.expectation.over == "median":
        return f"median {column} {value_text(outcome.median)} over {len(outcome.selected)} trial(s)"
    listed = [_trial(t, column) for t in outcome.failing[:MAX_LISTED]]
    more = len(outcome.failing) - len(listed)
    return ", ".join(listed) + (f" and {more} more" if more > 0 else "")


def detail(outcome: Outcome) -> str:
    """One sentence: what was checked over which trials, and what broke it."""
    e = outcome.expectation
    if outcome.status == NOT_MEASURED:
        return f"no trial of this run was selected ({e.scope})"
    trials = len(outcome.selected)
    if e.over == "median":
        verdict = "holds" if outcome.status != FAILED else "does not hold"
        return f"`{e.check.text}` {verdict} for the {failing_trials(outcome)}"
    if outcome.status == FAILED:
        return f"`{e.check.text}` failed in {len(outcome.failing)} of {trials} trial(s): {failing_trials(outcome)}"
    return f"`{e.check.text}` held in all {trials} trial(s)"


def console_line(outcome: Outcome) -> str:
    return f"{outcome.status.upper():>12}  {outcome.expectation.name}: {detail(outcome).replace('`', '')}"
