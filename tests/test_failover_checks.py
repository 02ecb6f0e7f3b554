"""The failover scenario's pure parts: what Sentinels say, ack confirmation, the failover and
application checkers on histories built by hand, the partition relay on loopback sockets."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

from harness.checkers.application import application_columns, longest_run
from harness.checkers.failover import error_kind, failover_columns
from harness.errors import HarnessError
from harness.topology.proxy import ProxyHub
from harness.topology.sentinel import SentinelFacts
from harness.topology.sentinel_setup import SentinelOptions, data_server_args, sentinel_config
from harness.workload.acks import AckMode, config_has_aof, why_unavailable
from harness.workload.resp import ReplyError
from harness.workload.route import AddressMap, master_state, switch_target, usable

MS = 1_000_000


def test_sentinel_replies_are_read_as_redis_py_reads_them():
    reply = [[b"name", b"other", b"ip", b"127.0.0.1", b"port", b"1", b"flags", b"master"],
             [b"name", b"sessions", b"ip", b"127.0.0.1", b"port", b"6380", b"flags", b"master,s_down"]]
    state = master_state(reply, "sessions")
    assert state["port"] == "6380" and not usable(state)
    assert usable({"flags": "master"}) and not usable({"flags": "slave"}) and not usable({"flags": "master,o_down"})
    assert master_state(reply, "missing") is None and master_state(b"junk", "sessions") is None
    assert switch_target(b"sessions 127.0.0.1 6379 127.0.0.1 6380", "sessions") == ("127.0.0.1", 6380)
    assert switch_target(b"other 127.0.0.1 6379 127.0.0.1 6380", "sessions") is None
    assert AddressMap({7001: 6379})(("127.0.0.1", 7001)) == ("127.0.0.1", 6379)
    assert AddressMap()(("127.0.0.1", 7001)) == ("127.0.0.1", 7001)


def test_ack_modes_confirm_only_what_their_reply_confirms():
    wait, waitaof = AckMode("wait", 100), AckMode("waitaof", 100)
    assert wait.command == b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n100\r\n"
    assert wait.unconfirmed(1) is None and wait.unconfirmed(2) is None
    assert "0 replicas" in wait.unconfirmed(0)
    assert waitaof.unconfirmed([1, 1]) is None
    assert "replicas 0" in waitaof.unconfirmed([1, 0]) and "local 0" in waitaof.unconfirmed([0, 1])
    assert "error" in waitaof.unconfirmed(ReplyError("ERR WAITAOF cannot be used"))
    assert AckMode("plain").command is None and AckMode("min-replicas").min_replicas == 1
    with pytest.raises(HarnessError, match="unknown ack mode"):
        AckMode("always")
    assert config_has_aof("save ''\nappendonly yes\n") and not config_has_aof("appendonly yes\nappendonly no\n")
    assert "no WAITAOF" in why_unavailable(waitaof, has_waitaof=False, appendonly=True)
    assert "no AOF" in why_unavailable(waitaof, has_waitaof=True, appendonly=False)
    assert why_unavailable(wait, has_waitaof=False, appendonly=False) is None


def test_topology_settings_are_checked_and_written_by_the_harness():
    with pytest.raises(HarnessError, match="at least one replica"):
        SentinelOptions(replicas=0)
    with pytest.raises(HarnessError, match="too short to be stable"):
        SentinelOptions(down_after_ms=50)
    with pytest.raises(HarnessError, match="min-replicas-to-write"):
        SentinelOptions(replicas=1, min_replicas_to_write=2)
    options = SentinelOptions(min_replicas_to_write=1, min_replicas_max_lag_s=3)
    args = data_server_args(options, 7001, 6379)
    assert args[-3:] == ("--replicaof", "127.0.0.1", "6379")
    assert "--replica-announce-port" in args and "--min-replicas-max-lag" in args
    text = sentinel_config(options, 7001)
    assert "sentinel monitor sessions 127.0.0.1 7001 2" in text and "down-after-milliseconds sessions 1000" in text


def _history(rows) -> pd.DataFrame:
    """(kind, outcome, key, end in ms, server, value_hash, error) rows as a history frame."""
    frame = pd.DataFrame(rows, columns=["kind", "outcome", "key", "end_ns", "server", "value_hash", "error"])
    frame["end_ns"] *= MS
    frame["start_ns"] = frame["end_ns"] - MS
    frame["phase"] = "failover"
    frame["result"] = -1
    return frame


def test_the_failover_checker_counts_what_the_old_primary_took_after_the_promotion():
    old, new, promotion, fault = 6379, 6380, 1_000 * MS, 500 * MS
    history = _history([
        ("login", "ok", 1, 400, old, 11, ""),  # before the fault: not the failover's
        ("login", "ok", 2, 900, old, 12, ""),  # after the fault, before the promotion
        ("login", "ok", 3, 1_100, old, 13, ""),  # split brain: acked by the old primary after the promotion
        ("login", "ok", 4, 1_400, old, 14, ""),
        ("refresh", "fail", 4, 1_500, old, 0, "READONLY You can't write against a read only replica."),
        ("login", "unknown", 5, 1_500, old, 15, "TimeoutError"),
        ("login", "unknown", 6, 1_600, new, 16, "WAIT timed out: 0 replicas"),
        ("login", "ok", 7, 2_500, new, 17, ""),
        ("login", "fail", 8, 2_600, new, 18, "NOREPLICAS Not enough good replicas to write."),
    ])
    survivors = pd.DataFrame({"key": [2, 3, 7], "present": [True, True, True], "value_hash": [12, 99, 17]})
    facts = SentinelFacts(old_primary_port=old, winner_port=new, promotion_ns=promotion)
    columns = failover_columns(history, survivors, fault, facts)
    assert columns.acked_by_old_primary_after_promotion == 2
    assert columns.logins_lost_after_promotion == 2  # key 3 came back with another value, key 4 not at all
    assert columns.split_brain_s == pytest.approx(0.4)
    assert columns.failover_s == pytest.approx(2.0)
    assert (columns.readonly_writes, columns.noreplicas_writes, columns.timeout_writes,
            columns.unconfirmed_writes) == (1, 1, 1, 1)
    assert columns.servers_acking == 2
    assert np.isnan(failover_columns(history, survivors, fault, None).failover_s)


def test_error_kinds():
    assert error_kind("fail", "LOADING Redis is loading the dataset in memory") == "loading"
    assert error_kind("fail", "MASTERDOWN Link with MASTER is down") == "masterdown"
    assert error_kind("fail", "ERR something") == "other_failed"
    assert error_kind("unknown", "ConnectionResetError") == "dropped"
    assert error_kind("unknown", "WAITAOF timed out: local 1, replicas 0") == "unconfirmed"


def test_the_application_checker_counts_wrong_logouts_runs_and_the_first_success():
    rows = []
    for t, (kind, outcome, key, result) in enumerate([
            ("login", "ok", 1, -1), ("login", "ok", 2, -1), ("logout", "ok", 2, 1),
            ("read", "unknown", 1, -1), ("read", "unknown", 1, -1), ("read", "fail", 1, -1),  # the outage
            ("read", "ok", 1, 0),  # session 1 was created and not ended: wrongly logged out
            ("read", "ok", 2, 0),  # session 2 was ended: a miss is right
            ("read", "ok", 1, 0)], start=1):  # the application already logged user 1 out
        rows.append({"kind": kind, "outcome": outcome, "key": key, "result": result, "start_ns": t * 100 * MS - MS,
                     "end_ns": t * 100 * MS, "error": "ConnectionError: refused" if outcome != "ok" else ""})
    columns = application_columns(pd.DataFrame(rows), fault_effect_ns=350 * MS)
    assert columns.wrongly_logged_out == 1
    assert columns.requests_raised == 3 and columns.longest_failure_run == 3
    assert columns.first_success_s == pytest.approx(0.35)
    assert columns.longest_failure_s == pytest.approx(0.35)  # from the fault to the first success
    assert columns.raised_by_error == "ConnectionError=3"
    assert columns.raised_in_last_s == 3  # every request of this short history was made in its last second
    assert longest_run(np.array([True, False, True, True, False])) == 2


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(lambda: c.recv(4096), b"")],
                             daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def _recv(sock: socket.socket, size: int, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    try:
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def test_the_partition_relay_holds_bytes_while_cut_and_delivers_them_in_order_when_healed():
    server, _ = _echo_server()
    hub = ProxyHub()
    try:
        port = hub.add(server.getsockname()[1])
        before = socket.create_connection(("127.0.0.1", port))
        before.sendall(b"hello")
        assert _recv(before, 5, 2.0) == b"hello"
        hub.cut(port)
        before.sendall(b"held-1")
        during = socket.create_connection(("127.0.0.1", port))  # accepted, as the kernel does, but reaches nothing
        during.sendall(b"held-2")
        assert _recv(before, 6, 0.3) == b"" and _recv(during, 6, 0.3) == b""
        hub.heal(port)
        assert _recv(before, 6, 2.0) == b"held-1" and _recv(during, 6, 2.0) == b"held-2"
        before.close()
        during.close()
    finally:
        hub.close()
        server.close()
    time.sleep(0.05)
