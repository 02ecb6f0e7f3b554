"""The disk faults against real servers: what the server did, read from the server itself (its log,
INFO in server/<trial>.json), and what was lost, on aof-everysec and aof-always.

One run per backend feeds most tests (a trial per fault and config); each test reads the rows and
files of its fault. Then bad input, and Ctrl-C during a stall: nothing left mounted or running.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, assert_nothing_left, run_cli, server_processes

from harness.checkers.bound import FSYNC_NEAR_REWRITE_S

pytestmark = pytest.mark.usefixtures("fuse")

SMALL = ["--trials", "1", "--duration", "2", "--baseline", "500", "--keyspace", "3000", "--concurrency", "8",
         "--connections", "2", "--ceiling-requests", "0", "--plain", "--seed", "11"]
CONFIGS = "aof-everysec aof-always"
FAULTS = {  # what each test reads, as written on the command line
    "slow": "slow-fsync:stall_s=2.5",
    "slow-kill": "slow-fsync+kill9:stall_s=6,delay_s=1.2",
    "slow-power": "slow-fsync+power-loss:stall_s=6,delay_s=1.2",
    "eio-write": "eio-write:watch_s=1.5",
    "eio-write-once": "eio-write:mode=once,watch_s=1.5",
    "eio-fsync": "eio-fsync:watch_s=1.5",
    "enospc": "enospc:for_s=1,watch_s=2.5",
    "flip-rdb": "bitflip:files=rdb",
    "flip-incr": "bitflip:files=incr,bits=3",
    "mid-save": "crash-mid-save:key_save_delay_us=200,after_s=0.2",  # the child has its temp file by then
    "mid-save-power": "crash-mid-save:crash=power-loss,key_save_delay_us=200",
}


def fuse_mounts(marker: str) -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "fuse" in line and marker in line]


class Run:
    """A finished run: its rows by (config, fault key), with the server's account of each trial."""

    def __init__(self, results: Path) -> None:
        self.dir = (results / "latest").resolve()
        self.trials = pd.read_csv(self.dir / "trials.csv")

    def row(self, config: str, fault: str) -> pd.Series:
        rows = self.trials[(self.trials["config"] == config) & (self.trials["fault"] == FAULTS[fault])]
        assert len(rows) == 1, (config, fault, self.trials[["config", "fault"]].values.tolist())
        return rows.iloc[0]

    def server(self, row: pd.Series) -> dict:
        return json.loads((self.dir / "server" / f"{row['trial_id']}.json").read_text())

    def log_before_restart(self, row: pd.Series) -> str:
        log = self.server(row)["log"]
        starts = [i for i, line in enumerate(log.splitlines()) if "is starting" in line]
        return "\n".join(log.splitlines()[: starts[1]]) if len(starts) > 1 else log


def run_faults(tmp_path_factory, backend: str, configs: str, faults: list[str]) -> Run:
    results = tmp_path_factory.mktemp(f"disk-{backend}") / "results"
    proc = run_cli("run", "--results", str(results), *SMALL, "--backend", backend, "--configs", configs,
                   "--faults", " ".join(faults), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_nothing_left(results)
    assert fuse_mounts(str(results)) == []
    return Run(results)


def require_fuse() -> None:
    """The `fuse` fixture's check, for module-scoped fixtures (which cannot use a function-scoped one)."""
    import os

    from harness.powerfs import fuse_available

    problem = fuse_available()
    if problem and os.environ.get("CRASH_MATRIX_REQUIRE_FUSE") == "1":
        pytest.fail(f"CRASH_MATRIX_REQUIRE_FUSE=1 but {problem}")
    if problem:
        pytest.skip(f"no FUSE here: {problem}")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    require_fuse()
    return run_faults(tmp_path_factory, "process", CONFIGS, list(FAULTS.values()))


# -- errors: the server's own reaction, as it logged it and as INFO says -------------------------

def test_write_and_fsync_errors_make_always_exit_and_everysec_refuse_writes(run):
    for fault, words in (("eio-write", "Can't recover from AOF write error"),
                         ("eio-fsync", "Can't persist AOF for fsync error")):
        always = run.row("aof-always", fault)
        assert always["server_reaction"] == "exited" and words in always["exit_line"], always["exit_line"]
        assert words in run.log_before_restart(always)
        assert always["restarted"] and not always["restart_failed"]
        assert always["lost_writes"] == 0 and always["corrupt_values"] == 0  # it exits before it replies
        everysec = run.row("aof-everysec", fault)
        assert everysec["server_reaction"] == "refused-writes" and not everysec["restarted"]
        assert everysec["errors_misconf"] > 0
        assert run.server(everysec)["info_at_end"]["aof_last_write_status"] == "err"
        # A write the fault cut part-way is logged as a short write (aof.c retries the rest, gets EIO
        # and reports what it had written); one refused whole is logged as a write error.
        logged = (("Error writing to the AOF file", "Short write while writing to the AOF file")
                  if fault == "eio-write" else ("Fail to fsync the AOF file",))
        assert any(words in run.log_before_restart(everysec) for words in logged), logged
        assert everysec["lost_writes"] == 0
    assert run.row("aof-always", "eio-write")["eio_writes"] >= 1
    assert run.row("aof-always", "eio-fsync")["eio_fsyncs"] >= 1


def test_a_single_write_error_and_a_full_disk_that_empties_again_are_recovered_from(run):
    for fault in ("eio-write-once", "enospc"):
        row = run.row("aof-everysec", fault)
        log = run.log_before_restart(row)
        saw_error = "Error writing to the AOF file" in log or "Short write while writing to the AOF file" in log
        if fault == "eio-write-once" and not saw_error:
            # The kernel splits a write() into several FUSE requests; when the one EIO lands on a
            # later piece, write() returns the bytes before it and aof.c writes the rest: Redis never
            # sees an error. Then it must simply have kept serving, losing nothing.
            assert row["eio_writes"] == 1 and row["server_reaction"] == "kept-serving", row["server_reaction"]
            assert row["lost_writes"] == 0
            continue
        assert "AOF write error looks solved, Redis can write again." in log, fault
        assert run.server(row)["info_at_end"]["aof_last_write_status"] == "ok", fault
        assert row["lost_writes"] == 0
    full = run.row("aof-everysec", "enospc")
    assert full["enospc_writes"] + full["short_writes"] >= 1
    assert run.row("aof-always", "enospc")["server_reaction"] == "exited"


# -- slow fsync --------------------------------------------------------------------------------

def test_a_slow_fsync_is_postponed_under_everysec_and_waited_for_under_always(run):
    everysec = run.row("aof-everysec", "slow")
    assert everysec["stalled_fsyncs"] >= 1 and everysec["server_reaction"] == "kept-serving"
    assert "Asynchronous AOF fsync is taking too long" in run.log_before_restart(everysec)
    server = run.server(everysec)
    # INFO when the fault's time was over, or (if the server was stuck behind the stall then) once lifted
    answered = server["info_at_end"] if "unanswered" not in server["info_at_end"] else server["info_after_lift"]
    assert answered["aof_delayed_fsync"] >= 1 and everysec["aof_delayed_fsync"] == answered["aof_delayed_fsync"]
    always = run.row("aof-always", "slow")
    assert always["stalled_fsyncs"] >= 1
    # always replies only after its fsync: clients waited about as long as the stall
    assert always["longest_stall_s"] >= 2.0, always["longest_stall_s"]
    for row in (everysec, always):
        assert row["lost_writes"] == 0 and not row["restarted"]


def test_a_crash_behind_a_stalled_fsync(run):
    """always keeps every acknowledged write; everysec can lose what it had postponed, and if it
    did, the server said so (data unwritten at the crash) and the loss began after the stall did."""
    for fault in ("slow-kill", "slow-power"):
        always = run.row("aof-always", fault)
        assert always["lost_writes"] == 0 and always["stalled_fsyncs"] >= 1
        everysec = run.row("aof-everysec", fault)
        assert abs(everysec["then_at_s"] - 1.2) < 0.3
        if everysec["lost_writes"] > 0:
            assert everysec["loss_window_s"] <= everysec["then_at_s"] + 1.05, everysec  # the second before it, at most
            at_crash = run.server(everysec)["info_at_crash"]
            assert "unanswered" in at_crash or at_crash.get("aof_buffer_length", 0) > 0, at_crash
    power = run.row("aof-everysec", "slow-power")
    # The last fsync that completed bounds it; when that fsync came right after the baseline rewrite
    # (the stall began before the next second's), the rewrite is named, as the same moment.
    assert power["durable_by"] in ("aof-fsync", "aof-rewrite-start"), power
    if power["durable_by"] == "aof-rewrite-start":
        assert power["last_save_before_crash_s"] - power["last_fsync_before_crash_s"] < FSYNC_NEAR_REWRITE_S, power
    assert power["last_fsync_before_crash_s"] >= 0  # the power cut did not wait for the stalled fsync
    # the loss reaches back no further than the last fsync powerfs saw complete
    assert power["loss_window_s"] <= power["durable_before_crash_s"] + 0.05, power


# -- bits flipped at rest ----------------------------------------------------------------------

def test_a_flipped_bit_in_an_rdb_file_is_refused_on_load(run):
    """The RDB's CRC64 catches it, or its parser first (a broken length or LZF string): either way
    the server names the RDB and will not start on it."""
    for config in ("aof-everysec", "aof-always"):
        row = run.row(config, "flip-rdb")
        assert row["flipped_bits"] == 1 and row["flips_checksummed"] == 1 and ".base.rdb" in row["flip_files"]
        assert row["restart_failed"] and row["server_reaction"] == "refused-to-start", row
        start = run.server(row)["log"].rsplit("is starting", 1)[-1]
        caught = ("RDB CRC error", "Wrong RDB checksum", "Internal error in RDB", "Error reading the RDB preamble")
        assert any(words in start for words in caught), start[-600:]


def test_flipped_bits_in_the_aof_are_loaded_or_refused_and_recorded(run):
    for config in ("aof-everysec", "aof-always"):
        row = run.row(config, "flip-incr")
        assert row["flipped_bits"] == 3 and row["flips_checksummed"] == 0 and ".incr.aof" in row["flip_files"]
        assert len(str(row["flips"]).split("; ")) == 3
        start = run.server(row)["log"].rsplit("is starting", 1)[-1]
        if row["restart_failed"]:
            assert "append only file" in start or "AOF" in start, start[-600:]
        else:
            assert "DB loaded from incr file" in start  # nothing checked the bytes it loaded


# -- a crash during a background save ------------------------------------------------------------

def test_a_crash_mid_rewrite_finds_the_child_writing_and_loses_nothing_acknowledged(run):
    for config in ("aof-everysec", "aof-always"):
        for fault in ("mid-save", "mid-save-power"):
            row = run.row(config, fault)
            assert row["save_running_at_crash"], (config, fault)
            log = run.log_before_restart(row)
            assert "Background append only file rewriting started" in log
            assert "Background AOF rewrite terminated with success" not in log.split("rewriting started")[-1]
            assert not row["restart_failed"]
        assert run.row(config, "mid-save")["save_temp_files"] >= 1  # the child's half-written file is left
    assert run.row("aof-always", "mid-save")["lost_writes"] == 0
    assert run.row("aof-always", "mid-save-power")["lost_writes"] == 0
    assert run.row("aof-everysec", "mid-save")["lost_writes"] == 0  # kill -9: the page cache keeps the AOF


def test_the_report_has_a_section_per_fault(run):
    report = (run.dir / "report.md").read_text()
    for key in FAULTS.values():
        assert f"(`{key}`)" in report, key
    assert "## What bounded the loss" in report and "CRC64" in report


def test_the_disk_faults_on_docker(tmp_path_factory, docker_engine):
    faulted = run_faults(tmp_path_factory, "docker", CONFIGS, [FAULTS["eio-write"], FAULTS["slow"],
                                                              FAULTS["slow-power"]])
    assert faulted.row("aof-always", "eio-write")["server_reaction"] == "exited"
    everysec = faulted.row("aof-everysec", "slow")
    assert "Asynchronous AOF fsync is taking too long" in faulted.log_before_restart(everysec)
    for config in ("aof-everysec", "aof-always"):
        # the engine's own SIGKILL waits for the container to exit, which a stalled fsync holds up: the
        # power cut must still come during the stall
        cut = faulted.row(config, "slow-power")
        assert cut["last_fsync_before_crash_s"] >= 0, cut["last_fsync_before_crash_s"]
    assert faulted.row("aof-always", "slow-power")["lost_writes"] == 0
    from conftest import containers_of
    assert containers_of(docker_engine, faulted.dir.parent) == []


# -- bad input: one line, before any trial, nothing left -----------------------------------------

@pytest.mark.parametrize("faults,message", [
    ("slow-fsync:stal_s=5", "fault slow-fsync: unknown parameter 'stal_s'"),
    ("eio-write:mode=always", "mode 'always': choose once or sticky"),
    ("kill9+slow-fsync", "kill9 stops the server, so nothing can follow it"),
    ("bitflip:bits=999999999", "bits=999999999 is more than the files can hold"),
    ("slow-fsync:stall_s", "parameter 'stall_s' is not key=value"),
])
def test_bad_fault_parameters_are_clear_errors_before_any_trial(tmp_path, faults, message):
    results = tmp_path / "results"
    proc = run_cli("run", "--results", str(results), *SMALL, "--configs", "aof-always", "--faults", faults,
                   "--backend", "process")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not results.exists() or not any(results.glob("2*"))  # no trial started
    # refused while planning, before even the config check: nothing of this run can be running
    assert server_processes(str(tmp_path)) == [] and fuse_mounts(str(tmp_path)) == []


def test_bitflip_on_a_config_without_files_is_a_clear_error(tmp_path):
    proc = run_cli("run", "--results", str(tmp_path / "r"), *SMALL, "--configs", "none", "--faults", "bitflip",
                   "--backend", "process")
    assert proc.returncode == 2 and "config none writes no such persistence files" in proc.stderr, proc.stderr


def test_a_stall_without_fuse_is_a_clear_error(tmp_path):
    proc = run_cli("run", "--results", str(tmp_path / "r"), *SMALL, "--configs", "aof-always",
                   "--faults", "slow-fsync+kill9", "--backend", "process",
                   env={"CRASH_MATRIX_FUSE_DEVICE": str(tmp_path / "no-fuse")})
    assert proc.returncode == 2 and "fault slow-fsync needs FUSE" in proc.stderr, proc.stderr


def test_ctrl_c_during_a_stall_leaves_nothing_mounted_or_running(tmp_path):
    """always waits in its stalled fsync (the server's main thread is stuck in the kernel); Ctrl-C
    then must still end the run at once and leave no mount, daemon or server behind."""
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--results", str(results), *SMALL,
                             "--configs", "aof-always", "--faults", "slow-fsync:stall_s=60", "--backend", "process"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "slow-fsync acting" in line:
                break
        time.sleep(1.0)  # the server's fsync is stalled now
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        assert time.monotonic() - began < 30
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert_nothing_left(results)
    assert fuse_mounts(str(tmp_path)) == []
