"""The matrix against real servers, on both backends: what kill -9 really does to each config."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.server import ServerSpec, free_port
from harness.server.docker_backend import DockerBackend
from harness.server.process import ProcessBackend

from conftest import CONFIGS, assert_nothing_left, run_cli

SMALL = ["--scenarios", "crash-matrix", "--faults", "kill9", "--trials", "1", "--duration", "1.5", "--baseline", "500", "--users", "3000", "--concurrency", "8",
         "--plain"]


def expected_present(history: pd.DataFrame) -> set[int]:
    """Keys whose last acknowledged write leaves a session, with no unknown outcome to blur it."""
    checked = history[history["phase"].isin(["baseline", "load"])].sort_values("start_ns")
    keys = set()
    for key, ops in checked.groupby("key"):
        if (ops["outcome"] == "unknown").any():
            continue
        writes = ops[(ops["outcome"] == "ok") & ((ops["kind"].isin(["login", "logout"])) |
                                                 ((ops["kind"] == "refresh") & (ops["result"] == 1)))]
        if len(writes) and writes["kind"].iloc[-1] != "logout":
            keys.add(int(key))
    return keys


def test_kill9_loses_every_session_without_persistence_and_none_with_aof_always(backend_kind, tmp_path, request):
    results = tmp_path / "results"
    proc = run_cli("run", "--configs", "none aof-always", "--backend", backend_kind, "--results", str(results), *SMALL)
    assert proc.returncode == 0, proc.stderr
    run_dir = (results / "latest").resolve()
    trials = pd.read_csv(run_dir / "trials.csv").set_index("config")
    assert set(trials["backend"]) == {backend_kind}

    none = trials.loc["none"]
    none_history = pd.read_parquet(run_dir / "histories" / f"{none['trial_id']}.parquet")
    none_survivors = pd.read_parquet(run_dir / "survivors" / f"{none['trial_id']}.parquet")
    should_exist = expected_present(none_history)
    lost = set(none_survivors.loc[none_survivors["status"] == "lost", "key"])
    assert len(should_exist) > 500  # the baseline, at least
    assert should_exist <= lost  # every acknowledged session is gone
    assert none["dataset_keys"] == 0 and not none_survivors["present"].any()
    assert none["lost_sessions"] == len(lost)

    always = trials.loc["aof-always"]
    assert always["acked_writes"] > 1000
    for column in ("lost_writes", "lost_sessions", "resurrected_sessions", "stale_refreshes", "corrupt_values"):
        assert always[column] == 0, column
    assert always["dataset_keys"] > 0
    assert always["throughput_ops_s"] > 0 and always["recovery_s"] > 0
    assert (run_dir / "logs" / f"{always['trial_id']}.log").read_text().count("Ready to accept connections") >= 2
    assert (run_dir / "environment.json").exists()
    assert not (run_dir / "data").exists()  # removed without --keep-data
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(results, docker)


def _backend(kind: str, run_id: str):
    backend = DockerBackend("redis:7.4", run_id) if kind == "docker" else ProcessBackend()
    backend.prepare(lambda message: None)
    return backend


def test_the_same_server_restarts_on_the_same_data(backend_kind, tmp_path):
    backend = _backend(backend_kind, "restart-test")
    data = tmp_path / "data"
    data.mkdir()
    spec = ServerSpec("restart", CONFIGS / "aof-always.conf", data, tmp_path / "server.log", free_port())
    try:
        with backend.server(spec) as server:
            server.start()
            server.client().set("session:1", "alive")
            identity_before = server.container.id if backend_kind == "docker" else None
            server.kill()
            assert not server.is_running()
            assert (data / "appendonlydir").is_dir()  # the data sits in the host directory
            server.restart()
            assert server.client().get("session:1") == b"alive"
            if backend_kind == "docker":
                assert server.container.id == identity_before  # the same container, started again
    finally:
        backend.cleanup()
    assert "Ready to accept connections" in (tmp_path / "server.log").read_text()


def test_kill_takes_the_bgsave_child_with_it(backend_kind, tmp_path):
    """A BGSAVE child that outlived the kill could rename a fresh dump after the crash."""
    backend = _backend(backend_kind, "bgsave-test")
    data = tmp_path / "data"
    data.mkdir()
    spec = ServerSpec("bgsave", CONFIGS / "rdb.conf", data, tmp_path / "server.log", free_port())
    try:
        with backend.server(spec) as server:
            server.start()
            client = server.client()
            client.mset({f"k{i}": "v" for i in range(200)})
            client.config_set("rdb-key-save-delay", 20_000)  # 20 ms per key: a 4 s BGSAVE
            client.bgsave()
            assert client.info("persistence")["rdb_bgsave_in_progress"] == 1
            server.kill()
            time.sleep(5)  # longer than the save would have taken
            assert not (data / "dump.rdb").exists()
            if backend_kind == "process":
                with pytest.raises(ProcessLookupError):
                    os.killpg(server._proc.pid, 0)
    finally:
        backend.cleanup()


def test_interrupt_mid_trial_keeps_finished_trials_and_leaves_nothing(backend_kind, tmp_path, request):
    import subprocess
    import sys

    from conftest import ROOT

    results = tmp_path / "results"
    args = [sys.executable, "-m", "harness", "run", "--scenarios", "crash-matrix", "--configs", "aof-everysec none",
            "--backend", backend_kind, "--results", str(results), "--faults", "kill9", "--trials", "1", "--duration", "4",
            "--baseline", "200", "--plain"]
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("[trial 2/2]"):
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(1.5)  # inside the second trial's load
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    stderr = "".join(seen) + err
    assert proc.returncode == 130, stderr
    assert "interrupted; 1 finished trial(s) kept in" in stderr.strip().splitlines()[-1]
    run_dir = (results / "latest").resolve()
    trials = pd.read_csv(run_dir / "trials.csv")
    assert list(trials["config"]) == ["aof-everysec"]
    assert (run_dir / "histories" / "aof-everysec__kill9__1.parquet").exists()
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(results, docker)


def test_report_rebuilds_from_a_results_folder(tmp_path):
    results = tmp_path / "results"
    proc = run_cli("run", "--configs", "aof-no", "--backend", "process", "--results", str(results), *SMALL)
    assert proc.returncode == 0, proc.stderr
    run_dir = (results / "latest").resolve()
    for name in ("report.html", "report.md", "tradeoff.png"):
        (run_dir / name).unlink()
    proc = run_cli("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert "aof-no" in (run_dir / "report.md").read_text()
    assert (run_dir / "tradeoff.png").read_bytes().startswith(b"\x89PNG")
    assert Path(run_dir / "report.html").stat().st_size > 1000


def test_the_fault_instant_leaves_no_acknowledged_write_unchecked(backend_kind, tmp_path, request):
    """Users move to new sessions only once the fault took effect: every write the old server
    acknowledged (even after the fault was issued) is in a checked phase and judged."""
    import scenarios.crash_matrix as crash_matrix
    from harness import schema
    from harness.progress import PlainUI
    from harness.results import RunDir
    from harness.runner.local import run_plan
    from harness.spec import ServerChoice, Timeline
    from harness.workload.session import WorkloadParams

    options = crash_matrix.MatrixOptions(
        configs_dir=CONFIGS, config_names=["aof-always"], fault_names=["kill9"], trials=1,
        timeline=Timeline(duration_s=1.5, after_s=0.3, ceiling_requests=0), server=ServerChoice(backend_kind),
        results_root=tmp_path / "results", workload=WorkloadParams(concurrency=16, connections=4, users=4000,
                                                                   baseline_sessions=400), seed=5)
    run = RunDir.create(tmp_path / "results", columns=schema.columns)
    run_plan(crash_matrix, crash_matrix.plan(options), run, PlainUI(open("/dev/null", "w")))
    row = pd.read_csv(run.path / "trials.csv").iloc[0]
    history = pd.read_parquet(run.path / "histories" / f"{row['trial_id']}.parquet")
    survivors = pd.read_parquet(run.path / "survivors" / f"{row['trial_id']}.parquet")
    effect = row["fault_effect_ns"]
    assert row["fault_ns"] <= effect < row["restart_ns"]
    after = history[history["phase"] == "after"]
    assert len(after) and (after["start_ns"] >= effect).all()  # nothing checked is left to the after phase
    acked_before_effect = history[(history["outcome"] == "ok") & (history["end_ns"] <= effect)]
    assert set(acked_before_effect["phase"].astype(str)) <= {"baseline", "load"}
    judged = set(survivors.loc[survivors["status"].notna(), "key"])
    assert set(acked_before_effect["key"]) <= judged  # every one of them was judged
    late = history[(history["phase"] == "load") & (history["outcome"] == "ok") & (history["end_ns"] > row["fault_ns"])]
    assert row["acks_after_fault"] == len(late)
    assert row["lost_writes"] == 0 and row["cut_consistent"]  # aof-always under kill -9 keeps them all
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path / "results", docker)


def test_check_judges_a_stored_run_again_from_its_files(tmp_path):
    results = tmp_path / "results"
    proc = run_cli("run", "--configs", "none", "--backend", "process", "--results", str(results), *SMALL)
    assert proc.returncode == 0, proc.stderr
    run_dir = (results / "latest").resolve()
    original = pd.read_csv(run_dir / "trials.csv")
    tampered = original.copy()
    tampered[["lost_sessions", "lost_writes", "acked_writes", "p99_ms"]] = [999, 999, 999, 999.0]
    tampered.to_csv(run_dir / "trials.csv", index=False)
    survivors_path = run_dir / "survivors" / f"{original['trial_id'][0]}.parquet"
    statuses = pd.read_parquet(survivors_path)["status"].value_counts().to_dict()
    proc = run_cli("check", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    checked = pd.read_csv(run_dir / "trials.csv")
    for column in ("lost_sessions", "lost_writes", "acked_writes", "p99_ms", "recovery_s", "seed"):
        assert checked[column][0] == original[column][0], column  # verdicts re-derived, measurements kept
    assert pd.read_parquet(survivors_path)["status"].value_counts().to_dict() == statuses
    assert "none" in (run_dir / "report.md").read_text()
