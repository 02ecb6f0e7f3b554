"""Expectations: the TOML file read strictly, judged on trials, and a real run whose failed
expectation shows in the exit status, the report's table and junit.xml (parsed back)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from junitparser import Failure, JUnitXml, Skipped

from harness import schema
from harness.errors import HarnessError
from harness.expectations import FAILED, NOT_MEASURED, PASSED, evaluate
from harness.expectations.load import load, parse_document
from harness.expectations.model import server_matches
from harness.expectations.run import read

from conftest import ROOT, assert_nothing_left, run_cli

COLUMNS = schema.numeric_columns()
SMALL = ["--faults", "kill9", "--trials", "2", "--duration", "1", "--baseline", "300", "--users", "2000",
         "--concurrency", "8", "--connections", "2", "--ceiling-requests", "0", "--plain", "--seed", "17",
         "--backend", "process"]


def doc(*tables: dict) -> list:
    return parse_document({"expect": list(tables)}, COLUMNS, "x.toml")


# -- the file ------------------------------------------------------------------------------------

def test_the_shipped_claims_file_reads():
    expectations = read(ROOT / "expectations" / "claims.toml")
    assert len(expectations) == 4
    assert all(e.source and e.claim for e in expectations)
    assert {e.check.column for e in expectations} <= set(COLUMNS)


@pytest.mark.parametrize("table, message", [
    ({"check": "lost_session == 0"}, "'lost_session' is not a numeric trials.csv column"),
    ({"check": "config == 0"}, "'config' is not a numeric trials.csv column"),  # text, not a number
    ({"check": "lost_sessions = 0"}, "is not '<column> <operator> <number>'"),
    ({"check": "lost_sessions == zero"}, "'zero' is neither a number nor a numeric trials.csv column"),
    ({"check": "lost_sessions == nan"}, "not nan"),
    ({"check": "lost_sessions == 0", "over": "mean"}, "over must be 'all' or 'median'"),
    ({"check": "lost_sessions == 0", "faults": "kill9"}, "unknown key 'faults'"),
    ({"check": "lost_sessions == 0", "config": 3}, "config must be a name or a list of names"),
    ({"check": "lost_sessions == 0", "config": []}, "config must be a name or a list of names"),
    ({"config": "aof-always"}, "has no check"),
])
def test_a_malformed_expectation_names_the_table_and_the_problem(table, message):
    with pytest.raises(HarnessError, match=r"x\.toml: \[\[expect\]\] #2") as caught:
        doc({"check": "lost_writes == 0"}, table)
    assert message in str(caught.value)


def test_a_file_that_is_not_toml_or_has_no_expectations(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[expect]]\ncheck = lost_sessions == 0\n")
    with pytest.raises(HarnessError, match=r"bad\.toml: not valid TOML: .*line 2"):
        load(bad, COLUMNS)
    with pytest.raises(HarnessError, match="no \\[\\[expect\\]\\] tables"):
        parse_document({}, COLUMNS, "x.toml")
    with pytest.raises(HarnessError, match="unknown top-level key 'expectation'"):
        parse_document({"expectation": []}, COLUMNS, "x.toml")
    with pytest.raises(HarnessError, match="two expectations are named 'a'"):
        doc({"name": "a", "check": "lost_writes == 0"}, {"name": "a", "check": "lost_sessions == 0"})


def test_an_unknown_column_is_a_clear_error_before_any_trial(tmp_path):
    expect = tmp_path / "mine.toml"
    expect.write_text('[[expect]]\nconfig = "aof-always"\ncheck = "lost_sesions == 0"\n')
    proc = run_cli("run", "--configs", "aof-always", "--results", str(tmp_path / "r"), "--expect", str(expect),
                   *SMALL)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("crash-matrix: error:")]
    assert len(lines) == 1 and f"{expect}: [[expect]] #1: check 'lost_sesions == 0'" in lines[0]
    assert "[trial" not in proc.stderr and not (tmp_path / "r").exists()


# -- judging -----------------------------------------------------------------------------------------

def trials(*rows: dict) -> pd.DataFrame:
    base = {"server": "redis 7.0.15", "image": "", "scenario": "crash-matrix", "fault": "kill9"}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_all_median_nan_and_a_column_on_the_right():
    frame = trials(
        {"trial_id": "a1", "config": "a", "lost_sessions": 0, "loss_window_s": 0.2, "fault_at_s": 2.0},
        {"trial_id": "a2", "config": "a", "lost_sessions": 5, "loss_window_s": 2.5, "fault_at_s": 2.0},
        {"trial_id": "a3", "config": "a", "lost_sessions": 0, "loss_window_s": math.nan, "fault_at_s": 2.0},
        {"trial_id": "b1", "config": "b", "lost_sessions": 9, "loss_window_s": 0.1, "fault_at_s": 3.0},
    )
    expectations = doc(
        {"name": "all", "config": "a", "check": "lost_sessions == 0"},
        {"name": "median", "config": "a", "check": "lost_sessions <= 0", "over": "median"},
        {"name": "window", "check": "loss_window_s <= fault_at_s"},
        {"name": "none", "config": "c", "check": "lost_sessions == 0"},
        {"name": "both", "config": ["a", "b"], "check": "lost_sessions >= 0"},
    )
    outcome = {o.expectation.name: o for o in evaluate(expectations, frame)}
    assert outcome["all"].status == FAILED and [t.trial_id for t in outcome["all"].failing] == ["a2"]
    assert outcome["median"].status == PASSED and outcome["median"].median == 0
    # a2 broke it (2.5 > 2.0), a3 has no value: a missing figure never confirms a claim.
    assert outcome["window"].status == FAILED and [t.trial_id for t in outcome["window"].failing] == ["a2", "a3"]
    assert outcome["none"].status == NOT_MEASURED and not outcome["none"].failed
    assert outcome["both"].status == PASSED and len(outcome["both"].selected) == 4


def test_server_selectors_match_the_label_by_name_version_prefix_or_image():
    assert server_matches("valkey", "valkey 8.1.8", "")
    assert server_matches("redis 7", "redis 7.0.15", "") and server_matches("Redis 7.0", "redis 7.0.15", "")
    assert not server_matches("redis 7.1", "redis 7.0.15", "") and not server_matches("redis 6", "redis 7.0.15", "")
    assert not server_matches("red", "redis 7.0.15", "")
    assert server_matches("valkey/valkey:8", "valkey 8.1.8", "valkey/valkey:8")


# -- a real run ------------------------------------------------------------------------------------

EXPECT = '''
[[expect]]
name = "aof-always keeps every acknowledged write"
config = "aof-always"
check = "lost_writes == 0"
source = "redis.io persistence page"

[[expect]]
name = "none keeps its sessions"
config = "none"
check = "lost_sessions == 0"
claim = "a false claim, to fail"

[[expect]]
name = "power loss, not measured here"
fault = "power-loss"
check = "lost_writes == 0"
'''


def test_a_failed_expectation_sets_the_exit_status_the_report_table_and_junit(tmp_path):
    expect = tmp_path / "mine.toml"
    expect.write_text(EXPECT)
    results = tmp_path / "results"
    proc = run_cli("run", "--configs", "aof-always none", "--results", str(results), "--expect", str(expect), *SMALL)
    assert proc.returncode == 4, proc.stderr
    assert "expectation 'power loss, not measured here' selects no planned trial" in proc.stderr
    assert "1 of 3 expectation(s) failed" in proc.stderr.strip().splitlines()[-1]
    run_dir = (results / "latest").resolve()
    rows = pd.read_csv(run_dir / "trials.csv")
    none_ids = sorted(rows.loc[rows["config"] == "none", "trial_id"])
    assert (rows.loc[rows["config"] == "none", "lost_sessions"] > 0).all()  # what the real server did

    report = (run_dir / "report.md").read_text()
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Expectations"  # the report opens with them
    table = {line.split(" | ")[1]: line for line in report.splitlines() if line.startswith("| ") and " | " in line}
    assert table["aof-always keeps every acknowledged write"].startswith("| passed")
    failed = table["none keeps its sessions"]
    assert failed.startswith("| FAILED") and all(t.replace("_", "\\_") in failed for t in none_ids)
    assert table["power loss, not measured here"].startswith("| not measured")

    xml = JUnitXml.fromfile(str(run_dir / "junit.xml"))
    cases = {case.name: case for suite in xml for case in suite}
    assert set(cases) == {"aof-always keeps every acknowledged write", "none keeps its sessions",
                          "power loss, not measured here"}
    assert cases["aof-always keeps every acknowledged write"].is_passed
    (failure,) = cases["none keeps its sessions"].result
    assert isinstance(failure, Failure) and "failed in 2 of 2 trial(s)" in failure.message
    assert all(t in failure.message for t in none_ids)
    assert isinstance(cases["power loss, not measured here"].result[0], Skipped)
    assert (run_dir / "expectations.toml").read_text() == EXPECT

    # The same run judged again on other expectations: all hold, so the report command exits 0.
    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text('[[expect]]\nconfig = "none"\ncheck = "lost_sessions > 0"\n')
    proc = run_cli("report", str(run_dir), "--expect", str(relaxed))
    assert proc.returncode == 0, proc.stderr
    cases = [case for suite in JUnitXml.fromfile(str(run_dir / "junit.xml")) for case in suite]
    assert len(cases) == 1 and cases[0].is_passed
    proc = run_cli("report", str(run_dir), "--expect", str(expect))
    assert proc.returncode == 4
    assert_nothing_left(results)
