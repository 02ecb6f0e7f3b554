"""Expectations kept with a run: `expectations.toml` in the run folder, judged whenever its
report is built (so `harness report RUN` and `--resume` judge all trials, old and new), with
`junit.xml` written next to it."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import schema
from harness.expectations.evaluate import Outcome, evaluate
from harness.expectations.junit import JUNIT_XML, write_junit
from harness.expectations.load import load
from harness.expectations.model import Expectation

EXPECTATIONS_TOML = "expectations.toml"


def read(path: Path) -> list[Expectation]:
    """An expectations file, checked against the trials.csv schema (a clear error if it is wrong)."""
    return load(path, schema.numeric_columns())


def keep(run_dir: Path, source: Path) -> None:
    """Copy the (already read) expectations file into the run folder, where the report finds it."""
    target = Path(run_dir) / EXPECTATIONS_TOML
    if Path(source).resolve() != target.resolve():
        shutil.copyfile(source, target)


def stored(run_dir: Path) -> list[Expectation] | None:
    path = Path(run_dir) / EXPECTATIONS_TOML
    return read(path) if path.is_file() else None


def judge_run(run_dir: Path, trials) -> list[Outcome] | None:
    """The run's expectations judged on `trials` (the typed frame), junit.xml written; None: the
    run has no expectations."""
    expectations = stored(run_dir)
    if expectations is None:
        return None
    outcomes = evaluate(expectations, trials)
    write_junit(outcomes, Path(run_dir) / JUNIT_XML, f"crash-matrix expectations, run {Path(run_dir).name}")
    return outcomes
