"""--resume: a run interrupted with Ctrl-C, continued, ends with the same trials and seeds as the
same run left alone; finished trials are kept as they were."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from conftest import ROOT, assert_nothing_left, run_cli

OPTIONS = ["--scenarios", "crash-matrix", "--configs", "aof-everysec none", "--faults", "kill9", "--trials", "2", "--duration", "1.5",
           "--baseline", "200", "--users", "2000", "--concurrency", "8", "--connections", "2",
           "--ceiling-requests", "0", "--backend", "process", "--seed", "23", "--plain"]
IDENTITY = ["trial_id", "seed", "config", "fault", "trial", "server"]


def interrupted_run(results: Path) -> Path:
    """The run, stopped by SIGINT inside its second trial's load; returns its folder."""
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", *OPTIONS, "--results", str(results)], cwd=ROOT,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("[trial 2/4]"):
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + err
    return (results / "latest").resolve()


def test_resume_after_ctrl_c_gives_the_rows_of_an_uninterrupted_run(tmp_path):
    whole = run_cli("run", *OPTIONS, "--results", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    expected = pd.read_csv((tmp_path / "whole" / "latest").resolve() / "trials.csv")
    assert len(expected) == 4

    run_dir = interrupted_run(tmp_path / "cut")
    before = pd.read_csv(run_dir / "trials.csv")
    assert list(before["trial_id"]) == list(expected["trial_id"][:1])

    proc = run_cli("run", "--resume", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert "1 finished trial(s) kept, 3 of 4 planned still to run" in proc.stderr
    after = pd.read_csv(run_dir / "trials.csv")
    assert after[IDENTITY].to_dict("records") == expected[IDENTITY].to_dict("records")
    pd.testing.assert_frame_equal(after.iloc[:1], before)  # the finished trial kept as it was
    assert (after["run_id"] == run_dir.name).all()
    for trial_id in after["trial_id"]:
        assert (run_dir / "histories" / f"{trial_id}.parquet").is_file()
    assert "aof-everysec" in (run_dir / "report.md").read_text()

    again = run_cli("run", "--resume", str(run_dir))  # nothing left: the report is rebuilt, nothing runs
    assert again.returncode == 0, again.stderr
    assert "0 of 4 planned still to run" in again.stderr and "[trial" not in again.stderr
    assert len(pd.read_csv(run_dir / "trials.csv")) == 4
    assert_nothing_left(tmp_path)


def test_resume_takes_no_other_options_and_needs_a_stored_plan(tmp_path):
    proc = run_cli("run", "--resume", str(tmp_path), "--trials", "5", "--configs", "none")
    assert proc.returncode == 2
    assert "--resume continues a run with the options it was started with; drop --configs, --trials" in proc.stderr
    proc = run_cli("run", "--resume", str(tmp_path))
    assert proc.returncode == 2 and "cannot be resumed: it has no plan.json" in proc.stderr
