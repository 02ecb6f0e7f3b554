"""The reaction and loss-bound checkers on hand-made evidence (pure: no server). What a real server
logs and answers is checked against these readings in test_disk_faults.py."""

from __future__ import annotations

import calendar

import pandas as pd

from harness.checkers.base import ServerEvidence
from harness.checkers.bound import bound, save_events
from harness.checkers.reaction import error_counts, fault_window, reaction
from harness.server.logs import log_clock_offset_s, log_lines

BASE = calendar.timegm((2026, 12, 1, 7, 0, 0)) * 1_000_000_000


def at(seconds: float) -> int:
    return BASE + int(seconds * 1e9)


def line(seconds: float, text: str, pid: int = 10, role: str = "M") -> str:
    whole = int(seconds)
    ms = int(round((seconds - whole) * 1000))
    return f"{pid}:{role} 01 Dec 2026 07:00:{whole:02d}.{ms:03d} * {text}"


LOG = "\n".join([
    line(0.0, "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo", role="C"),
    line(0.1, "Ready to accept connections"),
    line(1.0, "Background append only file rewriting started by pid 20"),  # the harness's baseline
    line(1.2, "Background AOF rewrite terminated with success"),
    line(5.0, "Starting automatic rewriting of AOF on 100% growth"),
    line(5.0, "Background append only file rewriting started by pid 21"),
    line(5.5, "Successfully created the temporary AOF base file temp-rewriteaof-bg-21.aof", pid=21, role="C"),
    line(5.9, "Background AOF rewrite terminated with success"),
])


def history(rows: list[tuple]) -> pd.DataFrame:
    """(start s, end s, outcome, error) rows."""
    return pd.DataFrame({"start_ns": [at(r[0]) for r in rows], "end_ns": [at(r[1]) for r in rows],
                         "outcome": [r[2] for r in rows], "error": [r[3] for r in rows],
                         "phase": "load", "kind": "login"})


def test_log_lines_and_their_clock():
    assert log_clock_offset_s(LOG, at(0.0)) == 0.0
    lines = log_lines(LOG)
    assert lines[2].at_ns == at(1.0) and lines[2].pid == 10 and lines[6].role == "C"


def test_save_events_say_who_started_them():
    events = save_events(log_lines(LOG))
    assert [(e.kind, e.started_ns, e.done_ns, e.automatic) for e in events] == [
        ("rewrite", at(1.0), at(1.2), False), ("rewrite", at(5.0), at(5.9), True)]


def evidence(config: dict, power: bool, last_fsync_s: float | None = None) -> ServerEvidence:
    facts = {"last_fsync_ns": at(last_fsync_s)} if last_fsync_s is not None else {}
    return ServerEvidence(config=config, log=LOG, power_cut=power, fault_facts=facts, stopped="fault")


def test_what_bounded_the_loss():
    everysec = {"appendonly": "yes", "appendfsync": "everysec", "save": ""}
    no = {**everysec, "appendfsync": "no"}
    assert bound(evidence(everysec, power=False), at(7.25), at(2.0)).durable_by == "page-cache"
    assert bound(evidence({**everysec, "appendfsync": "always"}, power=True), at(7.25), at(2.0)).durable_by == \
        "every-write"
    fsync = bound(evidence(everysec, power=True, last_fsync_s=7.0), at(7.25), at(2.0))
    assert (fsync.durable_by, fsync.durable_before_crash_s, fsync.crash_in_second) == ("aof-fsync", 0.25, 0.25)
    # appendfsync no: only the automatic rewrite's start fsynced the file (its close-and-fsync)
    rewrite = bound(evidence(no, power=True, last_fsync_s=5.1), at(6.5), at(2.0))
    assert (rewrite.durable_by, rewrite.durable_source, rewrite.durable_before_crash_s) == \
        ("aof-rewrite-start", "automatic", 1.5)
    assert rewrite.automatic_saves == 1 and rewrite.last_save_before_crash_s == 1.5
    # a crash before the automatic rewrite: the harness's baseline rewrite bounded it
    early = bound(evidence(no, power=True, last_fsync_s=1.1), at(4.0), at(2.0))
    assert (early.durable_by, early.durable_source) == ("aof-rewrite-start", "baseline")
    assert bound(evidence({"appendonly": "no", "save": ""}, power=True), at(4.0), at(2.0)).durable_by == "none"
    assert bound(evidence(everysec, power=True), 0, at(2.0)).durable_by == "running"


def test_error_replies_by_prefix_and_the_fault_window():
    h = history([(0.0, 0.1, "ok", ""), (1.0, 1.001, "fail", "MISCONF Errors writing to the AOF file: EIO"),
                 (1.1, 1.2, "fail", "LOADING Redis is loading the dataset in memory"),
                 (1.2, 1.3, "fail", "ERR something else"), (2.0, 3.5, "ok", ""), (3.6, 3.7, "ok", "")])
    assert error_counts(h) == {"errors_misconf": 1, "errors_oom": 0, "errors_loading": 1, "errors_readonly": 0,
                               "errors_other": 1}
    window = fault_window(h, at(0.5), at(4.0))
    assert window["fault_ops_s"] == round(2 / 3.5, 1)
    assert window["longest_stall_s"] == 3.4  # from the last acknowledgement before the fault (0.1) to 3.5
    assert window["fault_max_ms"] == 1500.0


def test_the_reaction_is_read_from_the_server_not_assumed():
    h = history([(0.0, 0.1, "ok", ""), (1.0, 1.001, "fail", "MISCONF Errors writing to the AOF file: EIO")])
    disk = {"disk_fault": "eio-write"}
    refused = ServerEvidence(info_at_end={"aof_last_write_status": "err", "aof_delayed_fsync": 0}, fault_facts=disk)
    assert reaction(h, refused, at(0.5), at(2.0), False).server_reaction == "refused-writes"
    exited = ServerEvidence(stopped="exited", fault_facts=disk, log="\n".join([
        line(0.0, "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo", role="C"),
        line(1.0, "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."),
        line(2.0, "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo", role="C")]), restarted=True)
    gone = reaction(h.iloc[:1], exited, at(0.5), at(1.0), False)
    assert gone.server_reaction == "exited" and "Can't recover from AOF write error" in gone.exit_line
    kept = ServerEvidence(info_at_end={"aof_last_write_status": "ok", "aof_delayed_fsync": 2},
                          fault_facts={"disk_fault": "slow-fsync"})
    served = reaction(h.iloc[:1], kept, at(0.5), at(2.0), False)
    assert (served.server_reaction, served.aof_delayed_fsync) == ("kept-serving", 2)
    assert reaction(h, ServerEvidence(), at(0.5), at(2.0), True).server_reaction == "refused-to-start"
    assert reaction(h.iloc[:1], ServerEvidence(), at(0.5), at(2.0), False).server_reaction == "restarted"


# -- the report's rules over these columns ------------------------------------------------------

def test_a_sentence_only_where_the_loss_is_not_what_the_config_name_suggests():
    from harness.report.sections.crash_matrix.loss_bound import surprise

    texts = {"aof-everysec": "appendonly yes\nappendfsync everysec\nsave \"\"\n",
             "aof-no": "appendonly yes\nappendfsync no\nsave \"\"\n", "rdb": "save 60 1\n"}
    row = dict(trial_id="t", config="aof-everysec", fault="power-loss", restart_failed=False, lost_writes=10,
               loss_window_s=0.6, durable_by="aof-fsync", durable_before_crash_s=0.6, stalled_fsyncs=0)
    assert surprise(pd.Series(row), texts) is None  # within everysec's second
    late = surprise(pd.Series({**row, "loss_window_s": 3.5, "durable_before_crash_s": 3.5, "stalled_fsyncs": 1}), texts)
    assert "more than that" in late and "3.500 s before the crash" in late and "stalled" in late
    killed_row = {**row, "fault": "kill9", "durable_by": "page-cache", "aof_buffer_bytes_at_crash": 900}
    killed = surprise(pd.Series(killed_row), texts)
    assert "nothing is lost" in killed and "900 bytes still in its AOF buffer" in killed
    rewrite = surprise(pd.Series({**row, "config": "aof-no", "loss_window_s": 1.6, "durable_by": "aof-rewrite-start",
                                  "durable_source": "automatic", "durable_before_crash_s": 1.7}), texts)
    assert "less than that" in rewrite and "AOF rewrite (automatic) started 1.700 s" in rewrite
    assert surprise(pd.Series({**row, "config": "rdb", "loss_window_s": 50.0}), texts) is None  # no claim in seconds
    assert surprise(pd.Series({**row, "loss_window_s": 9.0, "restart_failed": True}), texts) is None


def test_what_a_fault_means_for_a_session_store_follows_the_measured_outcome():
    from collections import Counter

    from harness.report.sections.crash_matrix.per_fault import Outcome, meaning

    base = dict(config="c", fault="f", trials=3, words="", misconf=0.0, loading=0.0, other_errors=0.0,
                longest_stall_s=0.01, fault_ops_s=1.0, unknown=0.0, lost_sessions=0.0, lost_writes=0.0, lost_max=0.0,
                lost_writes_max=0.0, trials_with_loss=0, corrupt=0.0, corrupt_max=0.0, trials_with_corrupt=0,
                loss_window_s=0.0, flips_checksummed=0.0, flipped_bits=0.0, save_running=0, delayed_fsync=0.0)

    def said(**changes) -> str:
        return meaning(Outcome(**{**base, **changes}))

    assert "goes down" in said(reactions=Counter({"exited": 3}))
    assert "fail while reads go on" in said(reactions=Counter({"refused-writes": 3}))
    assert "silent loss" in said(reactions=Counter({"kept-serving": 3}), lost_max=5.0, trials_with_loss=1)
    assert "stalled requests" in said(reactions=Counter({"kept-serving": 3}), longest_stall_s=4.0)
    assert "never written" in said(reactions=Counter({"restarted": 3}), corrupt_max=1.0, trials_with_corrupt=1)
    assert "stays down" in said(reactions=Counter({"refused-to-start": 2, "restarted": 1}))
    assert said(reactions=Counter({"restarted": 3})) == "nothing a user would notice"
