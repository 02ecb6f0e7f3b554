"""junit.xml for CI systems: one test case per expectation (failed, passed, or skipped when no
trial of the run was selected).

junitparser, because it is maintained, writes and reads the format CI servers consume (Jenkins,
GitLab, GitHub test reporters), and lets the tests parse the file back with the same schema
knowledge instead of our own XML code; junit-xml, the other common choice, only writes and has
had no release since 2020.
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from harness.expectations.evaluate import FAILED, NOT_MEASURED, Outcome
from harness.expectations.text import detail

JUNIT_XML = "junit.xml"
CLASSNAME = "crash-matrix.expectations"


def _case(outcome: Outcome) -> TestCase:
    e = outcome.expectation
    case = TestCase(e.name, classname=CLASSNAME)
    text = detail(outcome).replace("`", "")
    if outcome.status == FAILED:
        case.result = [Failure(text, "ExpectationFailed")]
    elif outcome.status == NOT_MEASURED:
        case.result = [Skipped(text)]
    lines = [f"check: {e.check.text} over {e.over} ({e.scope})", text]
    lines += [f"claim: {e.claim}"] if e.claim else []
    lines += [f"source: {e.source}"] if e.source else []
    case.system_out = "\n".join(lines)
    return case


def write_junit(outcomes: list[Outcome], path: Path, suite_name: str) -> Path:
    suite = TestSuite(suite_name)
    for outcome in outcomes:
        suite.add_testcase(_case(outcome))
    suite.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.update_statistics()
    xml.write(str(path), pretty=True)
    return path
