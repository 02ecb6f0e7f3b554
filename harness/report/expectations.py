"""The report's first section when a run has expectations: each one, passed or failed, with the
trials that failed it, and each claim with where it is written."""

from __future__ import annotations

from harness.expectations.evaluate import FAILED, NOT_MEASURED, PASSED, Outcome
from harness.expectations.text import detail, failing_trials
from harness.report.section import Definitions, Paragraphs, Section, Table

ANCHOR = "expectations"


def _counts(outcomes: list[Outcome]) -> str:
    counts = {status: sum(o.status == status for o in outcomes) for status in (PASSED, FAILED, NOT_MEASURED)}
    text = f"{len(outcomes)} expectation(s): {counts[PASSED]} passed, {counts[FAILED]} failed"
    if counts[NOT_MEASURED]:
        text += f", {counts[NOT_MEASURED]} not measured (no trial of this run was selected)"
    return text + ". Each was judged on this run's trials.csv (`expectations.toml` in the run folder; " \
                  "`junit.xml` has one test case per expectation)."


def _row(outcome: Outcome) -> list[str]:
    e = outcome.expectation
    failed = failing_trials(outcome) if outcome.failed else "—"
    return [outcome.status.upper() if outcome.failed else outcome.status, e.name, e.scope,
            f"{e.check.text} ({e.over})", str(len(outcome.selected)), failed]


def expectations_section(outcomes: list[Outcome]) -> Section:
    table = Table(["Result", "Expectation", "Trials selected by", "Check", "Trials", "Failed by"],
                  [_row(o) for o in outcomes], [False, False, False, False, True, False])
    claims = [(o.expectation.name, (o.expectation.claim or detail(o)) +
               (f" (source: {o.expectation.source})" if o.expectation.source else ""))
              for o in outcomes if o.expectation.claim or o.expectation.source]
    blocks = [Paragraphs([_counts(outcomes)]), table]
    if claims:
        blocks += [Paragraphs(["The claims, as their sources word them:"]), Definitions(claims)]
    return Section("Expectations", blocks, anchor=ANCHOR)
