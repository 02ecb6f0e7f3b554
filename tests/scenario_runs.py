"""Running one of the new scenarios small, in-process, for the tests: a plan (filtered to the
cells a test needs), the local runner, the run folder's trials as a table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import schema
from harness.progress import PlainUI
from harness.results import RunDir
from harness.runner.local import Plan, run_plan


def run_small(tmp_path: Path, plan: Plan, keep=None) -> tuple[Path, pd.DataFrame]:
    """Run `plan` (its specs for which `keep(spec)` holds) into tmp_path/results; (run folder, trials)."""
    if keep is not None:
        plan = Plan([s for s in plan.specs if keep(s)], plan.configs, plan.environment, plan.notes, plan.checks)
    run = RunDir.create(tmp_path / "results", columns=schema.columns)
    with open("/dev/null", "w") as quiet:
        run_plan(None, plan, run, PlainUI(quiet))
    return run.path, pd.read_csv(run.path / "trials.csv", dtype={"config": str})
