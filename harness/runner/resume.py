"""Continuing a run: the plan it was started with, and the trials it has not finished.

A run folder keeps its whole plan (`plan.json`: the scenario and every spec, with its seed) from
the start, so `--resume RUN` runs exactly the specs whose trial is not yet in trials.csv, with
the same seeds and the same configs as text, whatever has changed in `configs/` since. Trials
already finished are kept as they are; the report is rebuilt over all of them.
"""

from __future__ import annotations

import msgspec

from harness.errors import HarnessError
from harness.results import RunDir
from harness.runner.plan import Plan
from harness.spec import TrialSpec

PLAN_JSON = "plan.json"


class _StoredPlan(msgspec.Struct):
    scenario: str
    specs: list[TrialSpec]
    notes: list[str] = []


def save_plan(run: RunDir, scenario: str, plan: Plan) -> None:
    stored = _StoredPlan(scenario, plan.specs, plan.notes)
    (run.path / PLAN_JSON).write_bytes(msgspec.json.format(msgspec.json.encode(stored), indent=1) + b"\n")


def load_plan(run: RunDir) -> tuple[str, Plan]:
    """(scenario name, its plan) as the run stored it; a clear error for a folder that has none."""
    path = run.path / PLAN_JSON
    if not path.is_file():
        raise HarnessError(f"{run.path} cannot be resumed: it has no {PLAN_JSON} (not a results folder, or written "
                           f"by a harness that did not store its plan)")
    try:
        stored = msgspec.json.decode(path.read_bytes(), type=_StoredPlan)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise HarnessError(f"{path}: not a stored plan ({exc})") from None
    configs = list({spec.config.name: spec.config for spec in stored.specs}.values())
    return stored.scenario, Plan(stored.specs, configs, {}, stored.notes)


def finished_trials(run: RunDir) -> set[str]:
    return {str(row.get("trial_id")) for row in run.rows}


def remaining(specs: list[TrialSpec], run: RunDir) -> list[TrialSpec]:
    """The specs whose trial is not in the run's table yet, in plan order."""
    done = finished_trials(run)
    return [spec for spec in specs if spec.trial_id not in done]
