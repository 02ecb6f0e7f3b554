"""The session load against a real server: complete histories, sane values, parameters checked."""

from __future__ import annotations

import json
import time

import numpy as np

import pytest

from harness.errors import HarnessError
from harness.server import ServerSpec, free_port
from harness.server.process import ProcessBackend
from harness.workload.driver import SessionLoad
from harness.workload.history import HistoryRecorder
from harness.workload.resp import encode
from harness.workload.session import Mix, WorkloadParams, session_value, value_hash

from conftest import CONFIGS


def test_resp_encoding():
    assert encode(b"SET", b"k", b"v") == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_session_value_is_json_of_about_the_asked_size_and_unique_per_write():
    import random

    rng = random.Random(1)
    one = session_value(rng, 42, "0-1", 1_700_000_000_000, 300)
    two = session_value(rng, 42, "0-2", 1_700_000_000_000, 300)
    assert 300 <= len(one) <= 310
    assert json.loads(one)["sid"] == 42
    assert value_hash(one) != value_hash(two)


def test_mix_parsing_and_bad_parameters():
    assert Mix.parse("login=1,read=0").weights() == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(HarnessError, match="unknown operation 'signup'"):
        Mix.parse("signup=3")
    with pytest.raises(HarnessError, match="not all zero"):
        Mix.parse("login=0")
    with pytest.raises(HarnessError, match="users"):
        WorkloadParams(concurrency=8, users=4)


@pytest.fixture
def server(tmp_path):
    backend = ProcessBackend()
    backend.prepare(lambda message: None)
    data = tmp_path / "data"
    data.mkdir()
    spec = ServerSpec("load", CONFIGS / "none.conf", data, tmp_path / "server.log", free_port())
    with backend.server(spec) as running:
        running.start()
        yield running


def test_history_is_complete_against_the_servers_own_command_counts(server):
    """Every command the server ran appears in the history exactly once, with an outcome."""
    # 13 users over 3 shared connections: requests of several users pipelined on each
    params = WorkloadParams(concurrency=13, connections=3, users=1300, baseline_sessions=100)
    recorder = HistoryRecorder()
    load = SessionLoad(server.host, server.port, params, seed=7, recorder=recorder)
    assert load.baseline() == 100
    load.start()
    time.sleep(0.5)
    load.stop()
    history = recorder.frame()
    stats = server.client().info("commandstats")
    by_kind = history["kind"].value_counts()
    assert stats["cmdstat_set"]["calls"] == by_kind["login"]
    assert stats["cmdstat_get"]["calls"] == by_kind["read"]
    assert stats["cmdstat_expire"]["calls"] == by_kind["refresh"]
    assert stats["cmdstat_del"]["calls"] == by_kind["logout"]
    assert set(history["outcome"].astype(str)) == {"ok"}
    assert (history["end_ns"] >= history["start_ns"]).all()
    # one worker per key: no two operations on a key overlap in time
    for _, ops in history.sort_values("start_ns").groupby("key"):
        assert (ops["start_ns"].to_numpy()[1:] >= ops["end_ns"].to_numpy()[:-1]).all()


def test_ops_in_flight_at_a_kill_are_unknown_never_failed(server):
    params = WorkloadParams(concurrency=8, users=800, baseline_sessions=0)
    recorder = HistoryRecorder()
    load = SessionLoad(server.host, server.port, params, seed=3, recorder=recorder)
    load.start()
    time.sleep(0.3)
    server.kill()
    time.sleep(0.2)
    load.stop()
    history = recorder.frame()
    outcomes = history["outcome"].astype(str).value_counts()
    assert outcomes.get("unknown", 0) >= 1
    assert outcomes.get("fail", 0) == 0  # a dropped connection is never a failure
    # Each user has one request in flight per connection it had. A reconnect racing the kill
    # can still complete its TCP handshake in the dying server's backlog, so a user may lose
    # a second request; after that the port refuses, and no request is sent (none recorded).
    assert outcomes.get("unknown", 0) <= 2 * params.concurrency


def test_rate_limited_load_offers_the_asked_rate_and_times_from_the_schedule(server):
    params = WorkloadParams(concurrency=10, connections=2, users=1000, baseline_sessions=0, rate_ops_s=2000)
    recorder = HistoryRecorder()
    load = SessionLoad(server.host, server.port, params, seed=5, recorder=recorder)
    load.start()
    time.sleep(1.5)
    load.stop()
    history = recorder.frame()
    # steady state: the middle second, by when requests were due
    starts = history["start_ns"].to_numpy()
    first = starts.min()
    middle = ((starts >= first + 250_000_000) & (starts < first + 1_250_000_000)).sum()
    assert 1800 <= middle <= 2200  # 2000 ops/s offered, and the server keeps up with it easily
    # each client's requests are due exactly one interval (10 / 2000 s = 5 ms) apart
    gaps = np.diff(np.sort(history.loc[history["worker"] == 3, "start_ns"].to_numpy()))
    assert np.median(gaps) == 5_000_000


def test_sessions_as_applications_make_them_unique_ids_and_only_live_ones_touched(server):
    """Each login makes a new session id, never reused; reads, refreshes and logouts go to a session
    of that user that an acknowledged login created and no logout has ended."""
    params = WorkloadParams(concurrency=6, connections=2, users=60, baseline_sessions=30)
    recorder = HistoryRecorder()
    load = SessionLoad(server.host, server.port, params, seed=9, recorder=recorder)
    assert load.baseline() == 30
    load.start()
    time.sleep(0.6)
    load.stop()
    history = recorder.frame().sort_values("start_ns")
    logins = history[history["kind"] == "login"]
    assert logins["key"].is_unique  # a session id is never logged into twice
    created: dict[int, int] = {}  # session -> its login's end
    ended: set[int] = set()
    for op in history.itertuples():
        if op.kind == "login":
            created[op.key] = op.end_ns
            continue
        assert op.key in created and created[op.key] <= op.start_ns, op  # made by an earlier login
        assert op.key not in ended, op  # never touched after its logout
        if op.kind == "logout":
            ended.add(op.key)
    reads = history[(history["kind"] == "read") & (history["result"] == 1)]
    assert len(reads) > 50 and (reads["value_hash"] != 0).all()  # a read's value is recorded, as evidence
    by_login = dict(zip(logins["key"], logins["value_hash"]))
    assert all(by_login[k] == v for k, v in zip(reads["key"], reads["value_hash"]))
