"""The cluster executor against a real Dask scheduler and two real workers on 127.0.0.1.

A small matrix run through the workers gives the same trials.csv as the same specs run here;
a worker killed in the middle of a trial still yields a complete run; Ctrl-C keeps what finished
and leaves nothing running on the workers; and the report's host comparison, on synthetic rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import scenarios.crash_matrix as crash_matrix
from harness import schema
from harness.progress import PlainUI
from harness.report.sections.crash_matrix.hosts import comparison_notes, differences, hosts_of, overlapping
from harness.results import RunDir
from harness.runner.cluster import connect, run_plan_on_cluster, trial_workers
from harness.runner.cluster_task import running_trials
from harness.runner.loopback_cluster import LoopbackCluster
from harness.spec import ServerChoice, Timeline
from harness.workload.session import WorkloadParams

from conftest import CONFIGS, ROOT, assert_nothing_left, run_cli, server_processes

LOAD = WorkloadParams(concurrency=8, connections=2, users=3000, baseline_sessions=300)
VERDICTS = ("lost_sessions", "lost_writes", "resurrected_sessions", "stale_refreshes", "old_values", "corrupt_values",
            "restart_failed")


def _dask_processes(marker: str) -> list[str]:
    """Running processes whose command line mentions `marker` (the cluster's folder)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if marker in cmdline and "dask" in cmdline:
            found.append(f"{pid} {cmdline[:120]}")
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cluster")
    with LoopbackCluster(2, directory) as running:
        yield running
    assert _dask_processes(str(directory)) == []  # scheduler, nannies and workers all gone
    assert server_processes(str(directory)) == []


@pytest.fixture
def client(cluster):
    client = connect(cluster.address)
    yield client
    client.close()


def _wait_for_workers(client, n: int = 2, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(trial_workers(client)) < n:
        assert time.monotonic() < deadline, "the nanny did not bring the worker back"
        time.sleep(0.3)


def _nothing_running_on_workers(client, cluster) -> None:
    left = client.run(running_trials)
    assert all(not keys for keys in left.values()), left
    assert server_processes(str(cluster.directory)) == []
    deadline = time.monotonic() + 10  # a stopped trial's task removes its scratch folder just after the process ends
    while (leftovers := [p for p in cluster.directory.rglob("crash-matrix-*") if p.is_dir()]) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers == []  # every trial's scratch folder removed on the worker


def _plan(configs: list[str], trials: int, duration_s: float, seed: int):
    options = crash_matrix.MatrixOptions(configs_dir=CONFIGS, config_names=configs, fault_names=["kill9"],
                                         trials=trials, timeline=Timeline(duration_s=duration_s, after_s=0.2,
                                                                          ceiling_requests=0),
                                         server=ServerChoice("process"), workload=LOAD, seed=seed)
    return crash_matrix.plan(options)


def test_a_matrix_through_two_workers_gives_the_rows_of_a_local_run(cluster, client, tmp_path):
    from harness.runner.local import run_plan

    plan = _plan(["aof-always", "none"], trials=2, duration_s=1.0, seed=21)
    quiet = PlainUI(open(os.devnull, "w"))
    local = RunDir.create(tmp_path / "local", columns=schema.columns)
    run_plan(crash_matrix, plan, local, quiet)
    remote = RunDir.create(tmp_path / "cluster", columns=schema.columns)
    assert run_plan_on_cluster(crash_matrix, plan, remote, quiet, cluster.address) == []

    here, there = (pd.read_csv(r.path / "trials.csv").set_index("trial_id").sort_index() for r in (local, remote))
    assert list(there.index) == sorted(spec.trial_id for spec in plan.specs)  # every trial, once
    assert list(there.columns) == list(here.columns)
    for column in ("config", "fault", "trial", "seed", "server", "backend", "host", "scenario"):
        assert there[column].tolist() == here[column].tolist(), column
    always, none = there[there["config"] == "aof-always"], there[there["config"] == "none"]
    for column in VERDICTS:  # aof-always keeps every acknowledged write under kill -9, here and there
        assert (always[column] == 0).all() and (here.loc[always.index, column] == 0).all(), column
    for rows in (none, here.loc[none.index]):  # none loses every session the load wrote, here and there
        assert (rows["lost_sessions"] > 0).all() and (rows["dataset_keys"] == 0).all()
        assert not rows["restart_failed"].any()

    environment = remote.environment()
    assert environment["executor"]["kind"] == "dask" and len(environment["executor"]["workers"]) == 2
    assert [h["host"] for h in environment["hosts"]] == there["host"].unique().tolist()
    assert environment["hosts"][0]["disk_fsync"]["fsyncs_per_s"] > 0
    assert environment["failed_trials"] == [] and environment["reruns"] == []
    for folder in ("histories", "survivors", "histograms", "specs"):
        assert len(list((remote.path / folder).iterdir())) == len(plan.specs), folder
    _nothing_running_on_workers(client, cluster)
    assert_nothing_left(tmp_path)


def _running_trial(client, timeout_s: float = 60) -> tuple[str, str]:
    """(worker address, task key) of a trial whose process runs on a worker (the scheduler's
    `processing` also lists tasks queued on a worker behind its one `trial` resource)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for worker, keys in client.run(running_trials).items():
            trials = [k for k in keys if "__" in k]
            if trials:
                return worker, trials[0]
        time.sleep(0.2)
    raise AssertionError("no trial started on the cluster")


def _start_run(cluster, results: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness", "run", "--scenarios", "crash-matrix", "--cluster", cluster.address, "--plain",
                             "--backend", "process", "--faults", "kill9", "--ceiling-requests", "0", "--baseline",
                             "300", "--concurrency", "8", "--connections", "2", "--results", str(results), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_worker_killed_during_a_trial_still_yields_a_complete_run(cluster, client, tmp_path):
    run = _start_run(cluster, tmp_path / "results", "--configs", "aof-always", "--trials", "3", "--duration", "3",
                     "--seed", "5")
    worker, key = _running_trial(client)
    time.sleep(1.5)  # the trial's server is up and under load
    pid = client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    output, _ = run.communicate(timeout=180)
    assert run.returncode == 0, output

    run_dir = tmp_path / "results" / "latest"
    rows = pd.read_csv(run_dir / "trials.csv")
    assert sorted(rows["trial_id"]) == [f"aof-always__kill9__{n}" for n in (1, 2, 3)]  # each once
    assert (rows["lost_sessions"] == 0).all()
    environment = RunDir.open_or_create(run_dir).environment()
    reruns = {r["trial_id"]: r for r in environment["reruns"]}
    killed = key.split(f"{environment['run_id']}-")[-1]
    assert reruns[killed]["attempts"] >= 2 and worker in reruns[killed]["workers"]
    assert "started again" in output
    _wait_for_workers(client)  # the nanny restarts the killed worker
    _nothing_running_on_workers(client, cluster)  # the killed worker's trial removed its server as it died
    assert_nothing_left(tmp_path)


def test_ctrl_c_keeps_what_finished_and_stops_every_trial_on_the_workers(cluster, client, tmp_path):
    _wait_for_workers(client)
    run = _start_run(cluster, tmp_path / "results", "--configs", "aof-always none", "--trials", "3",
                     "--duration", "2", "--seed", "9")
    _running_trial(client)
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=180)
    assert run.returncode == 130, output
    assert "interrupted" in output and "cancelling" in output
    assert all(not keys for keys in client.processing().values())  # every task cancelled
    _nothing_running_on_workers(client, cluster)
    assert_nothing_left(tmp_path)


def test_two_workers_on_one_docker_engine_leave_each_others_containers_alone(cluster, client, tmp_path,
                                                                            docker_engine):
    """Two trials at once on one engine: one finishing (its cleanup) must not remove the other's server."""
    from harness.server.docker_backend import RUN_LABEL

    _wait_for_workers(client)
    plan = _plan(["aof-always"], trials=2, duration_s=2.0, seed=3)
    plan = replace(plan, specs=[replace(s, server=ServerChoice("docker")) for s in plan.specs])
    remote = RunDir.create(tmp_path / "cluster", columns=schema.columns)
    assert run_plan_on_cluster(crash_matrix, plan, remote, PlainUI(open(os.devnull, "w")), cluster.address) == []
    rows = pd.read_csv(remote.path / "trials.csv")
    assert sorted(rows["trial_id"]) == sorted(s.trial_id for s in plan.specs)
    assert (rows["backend"] == "docker").all() and (rows["lost_sessions"] == 0).all()
    mine = [c for c in docker_engine.containers.list(all=True, filters={"label": RUN_LABEL})
            if c.labels.get(RUN_LABEL, "").startswith(remote.run_id)]
    assert mine == []
    _nothing_running_on_workers(client, cluster)


def test_a_client_killed_mid_run_leaves_nothing_running_on_the_workers(cluster, client, tmp_path):
    """The client dies (kill -9, no chance to cancel): the scheduler releases its tasks and each
    worker's plugin stops the trial it was running."""
    _wait_for_workers(client)
    run = _start_run(cluster, tmp_path / "results", "--configs", "none", "--trials", "2", "--duration", "4",
                     "--seed", "8")
    _running_trial(client)
    run.kill()
    run.communicate(timeout=30)
    deadline = time.monotonic() + 60
    while any(client.run(running_trials).values()) and time.monotonic() < deadline:
        time.sleep(0.3)
    _nothing_running_on_workers(client, cluster)


def test_a_trial_that_fails_on_its_worker_is_recorded_with_its_reason_and_the_run_goes_on(cluster, client, tmp_path):
    import socket

    _wait_for_workers(client)
    plan = _plan(["aof-always"], trials=2, duration_s=1.0, seed=4)
    with socket.socket() as listener:  # the second trial's fixed port is taken on its (this) machine
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        plan = replace(plan, specs=[plan.specs[0], replace(plan.specs[1], port=port)])
        remote = RunDir.create(tmp_path / "cluster", columns=schema.columns)
        failures = run_plan_on_cluster(crash_matrix, plan, remote, PlainUI(open(os.devnull, "w")), cluster.address)
    assert [f["trial_id"] for f in failures] == [plan.specs[1].trial_id]
    assert f"port {port} on 127.0.0.1 is busy" in failures[0]["reason"]
    assert remote.environment()["failed_trials"] == failures
    rows = pd.read_csv(remote.path / "trials.csv")
    assert rows["trial_id"].tolist() == [plan.specs[0].trial_id]  # the other trial finished and was merged
    from harness.report import build_report

    build_report(remote.path)
    assert "did not finish and is missing from every table" in (remote.path / "report.md").read_text()
    _nothing_running_on_workers(client, cluster)


def test_no_scheduler_is_one_clear_error_and_leaves_nothing(tmp_path):
    proc = run_cli("run", "--cluster", "tcp://127.0.0.1:9", "--configs", "none", "--faults", "kill9", "--trials", "1",
                   "--backend", "process", "--results", str(tmp_path / "results"))
    assert proc.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("crash-matrix: error:")
    assert not any((tmp_path / "results").glob("2*"))  # no empty run folder kept


def test_a_trial_runs_without_the_environment_dask_sets_for_its_workers():
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 (and thread counts) for its worker; a trial
    started from the worker must run as a local one does (the trim cost the driver 30-40%)."""
    from harness.runner.cluster_task import trial_environment

    nanny = {"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1}
    worker = {"PATH": "/usr/bin", "MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "8", "HOME": "/root"}
    assert trial_environment(worker, nanny) == {"PATH": "/usr/bin", "OMP_NUM_THREADS": "8", "HOME": "/root"}


def test_the_real_workers_have_dask_s_malloc_setting_and_their_trials_do_not(cluster, client):
    from harness.runner.cluster_task import child_environment

    assert set(client.run(os.getenv, "MALLOC_TRIM_THRESHOLD_").values()) == {"65536"}
    assert all("MALLOC_TRIM_THRESHOLD_" not in env for env in client.run(child_environment).values())


# -- the report's host comparison (synthetic rows) -------------------------------------------

def _rows(hosts: list[str], starts: list[int], length_ns: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"host": hosts, "config": "aof-always", "fault": "kill9", "throughput_ops_s": 1000.0,
                         "p99_ms": 1.0, "recovery_s": 0.1, "load_start_ns": starts,
                         "fault_ns": [s + length_ns // 2 for s in starts], "ready_ns": [s + length_ns for s in starts]})


def _host(name: str, cpu: str = "AMD EPYC", fsyncs: float = 3000.0) -> dict:
    return {"host": name, "cpu_model": cpu, "cpu_count": 2, "kernel": "6.1", "filesystem": "ext4 (/)",
            "disk_fsync": {"fsyncs_per_s": fsyncs}}


def test_hosts_alike_by_their_probes_are_compared_and_said_so():
    environment = {"hosts": [_host("a", fsyncs=3000), _host("b", fsyncs=2600)]}
    trials = _rows(["a", "b"], [0, 100])
    assert differences(hosts_of(environment, trials)) == []
    notes = comparison_notes(environment, trials)
    assert len(notes) == 1 and "alike by their probes" in notes[0] and "`a`, `b`" in notes[0]


def test_hosts_that_differ_are_never_compared_silently():
    environment = {"hosts": [_host("a", fsyncs=3000), _host("b", cpu="Intel Xeon", fsyncs=900)]}
    trials = _rows(["a", "b", "a"], [0, 100, 200])
    found = differences(hosts_of(environment, trials))
    assert any(d.startswith("CPU:") and "`Intel Xeon` on `b`" in d for d in found)
    assert any(d.startswith("fsync rate:") for d in found)
    assert "The hosts differ" in comparison_notes(environment, trials)[0]
    from harness.report.sections.crash_matrix.hosts import hosts_section

    section = hosts_section(environment, trials)
    per_host = section.blocks[-1]
    assert [row[2] for row in per_host.rows] == ["a", "b"] and per_host.rows[0][3] == "2"


def test_trials_overlapping_on_one_host_are_said_to_share_it():
    trials = _rows(["a", "a", "a", "b"], [1000, 1005, 1100, 1005])  # the first two overlap on a; b is alone
    assert overlapping(trials) == {"a": 2}
    notes = comparison_notes({"hosts": [_host("a"), _host("b")]}, trials)
    assert any("On `a`, 2 trials ran their load while another trial" in n for n in notes)
