"""The trial as data: a spec that round-trips, a worker that runs one from JSON, a shard the
merge turns into the same row and report as a local run, and a fault added from outside."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest

import scenarios.crash_matrix as crash_matrix
from harness import faults, schema
from harness.errors import HarnessError
from harness.faults import Fault, FaultSession
from harness.progress import PlainUI
from harness.record import Columns, Identity
from harness.results import RunDir
from harness.runner.local import run_plan
from harness.spec import FaultSpec, ServerChoice, Timeline, TrialSpec
from harness.workload.session import Mix, WorkloadParams

from conftest import CONFIGS, assert_nothing_left, run_cli

SMALL_LOAD = WorkloadParams(concurrency=8, connections=2, users=3000, baseline_sessions=300)
SHORT = Timeline(duration_s=1.0, after_s=0.2, ceiling_requests=0)


def small_plan(tmp_path: Path, configs: list[str], fault_names: list[str], backend: str = "process"):
    options = crash_matrix.MatrixOptions(configs_dir=CONFIGS, config_names=configs, fault_names=fault_names,
                                         trials=1, timeline=SHORT, server=ServerChoice(backend),
                                         results_root=tmp_path / "results", workload=SMALL_LOAD, seed=11)
    return crash_matrix.plan(options)


def run_locally(tmp_path: Path, plan) -> RunDir:
    run = RunDir.create(tmp_path / "results", columns=schema.columns)
    run_plan(crash_matrix, plan, run, PlainUI(open("/dev/null", "w")))
    return run


def test_a_spec_round_trips_through_json():
    spec = TrialSpec(scenario="crash-matrix", trial_id="a__b__1", trial=1, seed=7,
                     config=crash_matrix.config_files.discover(CONFIGS)["aof-always"].spec(),
                     server=ServerChoice("process", "valkey/valkey:8", "/usr/bin/redis-server"),
                     fault=FaultSpec("power-loss", {"fs_metadata": "strict", "fs_writeback": "off"}),
                     workload=WorkloadParams(concurrency=4, users=400, baseline_sessions=40, mix=Mix(0.5, 0.5, 0, 0)),
                     timeline=Timeline(duration_s=2.5, fault_window=(0.2, 0.4)), checkers=("durability",),
                     scenario_options={"note": "x", "n": 3}, keep_data=True, port=6390)
    assert TrialSpec.from_json(spec.to_json()) == spec
    assert json.loads(spec.to_json())["config"]["text"].startswith("#")  # the config travels as text


@pytest.mark.parametrize("text, where", [
    (b'{"scenario": "crash-matrix"}', "missing required field"),
    (b'{"scenario": 1}', "Expected `str`"),
    (b"not json", "not a JSON trial spec"),
])
def test_a_malformed_spec_is_one_clear_error(text, where):
    with pytest.raises(HarnessError, match=where):
        TrialSpec.from_json(text, where="spec.json")


def test_bad_workload_in_a_spec_is_refused_with_the_reason():
    spec = json.loads(small_plan_spec().to_json())
    spec["workload"]["concurrency"] = 0
    with pytest.raises(HarnessError, match="concurrency must be at least 1"):
        TrialSpec.from_json(json.dumps(spec))


def small_plan_spec() -> TrialSpec:
    config = crash_matrix.config_files.discover(CONFIGS)["aof-always"].spec()
    return TrialSpec(scenario="crash-matrix", trial_id="aof-always__kill9__1", trial=1, seed=5, config=config,
                     server=ServerChoice("process"), workload=SMALL_LOAD, timeline=SHORT)


def test_worker_shard_merges_into_the_same_row_and_report_as_a_local_run(tmp_path):
    """The local runner and `python -m harness worker` run the same spec through the same code;
    the merged shard gives a trials.csv row with the same columns, identity and verdicts."""
    plan = small_plan(tmp_path, ["aof-always"], ["kill9"])
    local = run_locally(tmp_path / "local", plan)
    local_row = pd.read_csv(local.path / "trials.csv").iloc[0]

    spec_path = tmp_path / "spec.json"
    spec_path.write_bytes(plan.specs[0].to_json())
    shard = tmp_path / "shard"
    proc = run_cli("worker", str(spec_path), str(shard), "--no-disk-probe")
    assert proc.returncode == 0, proc.stderr
    assert {"records.json", "host.json", "spec.json", "history.parquet", "survivors.parquet", "histogram.hdr",
            "ceiling.json"} <= {p.name for p in shard.iterdir()}
    merged_dir = tmp_path / "merged" / "run"
    proc = run_cli("merge", str(merged_dir), str(shard))
    assert proc.returncode == 0, proc.stderr
    merged_row = pd.read_csv(merged_dir / "trials.csv").iloc[0]

    assert list(merged_row.index) == list(local_row.index) == schema.columns()
    for column in Identity.columns():
        if column != "run_id":
            assert merged_row[column] == local_row[column] or (pd.isna(merged_row[column]) and pd.isna(
                local_row[column])), column
    for column in ("lost_writes", "lost_sessions", "resurrected_sessions", "corrupt_values"):
        assert merged_row[column] == local_row[column] == 0, column  # aof-always keeps everything under kill -9
    for folder, suffix in (("histories", "parquet"), ("survivors", "parquet"), ("histograms", "hdr"),
                           ("logs", "log")):
        assert (merged_dir / folder / f"aof-always__kill9__1.{suffix}").is_file(), folder
    assert not shard.exists()  # merged: the shard's files moved into the run
    local_report = (local.path / "report.md").read_text() if (local.path / "report.md").exists() else None
    merged_report = (merged_dir / "report.md").read_text()
    headings = [line for line in merged_report.splitlines() if line.startswith("#")]
    assert "aof-always" in merged_report and any("Recommendation" in h for h in headings)
    if local_report is not None:
        assert headings == [line for line in local_report.splitlines() if line.startswith("#")]
    environment = json.loads((merged_dir / "environment.json").read_text())
    assert environment["hosts"][0]["host"] == merged_row["host"]
    assert environment["servers"][0]["label"] == merged_row["server"]
    assert_nothing_left(tmp_path)


# -- a fault added from outside the harness, through the public registry ---------------------

@dataclass(frozen=True)
class StopFacts(Columns):
    stopped_s: float = 0.0  # how long the server was frozen before the kill


@dataclass(frozen=True)
class StopOptions:
    stop_s: float = 0.2


class _StopThenKill(FaultSession):
    def __init__(self, data_dir: Path, stop_s: float) -> None:
        self.server_dir = data_dir
        self.stop_s = stop_s

    def inject(self, topology, took_effect) -> StopFacts:
        began = time.monotonic()
        topology.primary.signal(signal.SIGSTOP)  # frozen: clients wait, nothing is written
        time.sleep(self.stop_s)
        topology.primary.kill()
        took_effect()
        return StopFacts(round(time.monotonic() - began, 3))


class SigstopKill9(Fault):
    name = "sigstop-kill9"
    label = "SIGSTOP, then kill -9"
    phrase = "a freeze then a process crash (fault `sigstop-kill9`)"
    description = "`sigstop-kill9`: `SIGSTOP` the server, wait, then `SIGKILL` it."
    order = 15
    Options = StopOptions
    columns = StopFacts

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _StopThenKill(data_dir, self.options.stop_s)


@pytest.fixture
def stop_fault():
    faults.register(SigstopKill9)
    yield SigstopKill9
    faults.unregister(SigstopKill9.name)


def test_a_fault_from_a_test_module_runs_a_trial_and_reaches_the_report(stop_fault, tmp_path):
    plan = small_plan(tmp_path, ["aof-always"], ["sigstop-kill9"])
    assert plan.specs[0].fault == FaultSpec("sigstop-kill9", {"stop_s": 0.2})
    run = run_locally(tmp_path, plan)
    row = pd.read_csv(run.path / "trials.csv").iloc[0]
    assert row["fault"] == "sigstop-kill9"
    assert row["stopped_s"] >= 0.2  # the fault's own column, declared in this file
    assert row["lost_sessions"] == 0 and row["acked_writes"] > 0
    from harness.report import build_report

    build_report(run.path)
    report = (run.path / "report.md").read_text()
    assert SigstopKill9.phrase in report or SigstopKill9.label in report
    assert SigstopKill9.description in report
    assert_nothing_left(tmp_path)


def test_unknown_fault_parameter_is_refused_before_any_trial(stop_fault):
    with pytest.raises(HarnessError, match=r"fault sigstop-kill9: unknown parameter 'stop_ms' \(it takes stop_s\)"):
        faults.build(FaultSpec("sigstop-kill9", {"stop_ms": 3}))
    assert replace(faults.build(FaultSpec("sigstop-kill9", {"stop_s": "0.5"})).options).stop_s == 0.5
