"""The power-loss faults in the matrix, against real servers on both backends."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_nothing_left, run_cli

pytestmark = pytest.mark.usefixtures("fuse")

SMALL = ["--scenarios", "crash-matrix", "--trials", "1", "--duration", "1.5", "--baseline", "500", "--users", "3000", "--concurrency", "8",
         "--connections", "2", "--ceiling-requests", "0", "--plain"]


def fuse_mounts(marker: str) -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "fuse" in line and marker in line]


def run_matrix(tmp_path: Path, *args: str) -> tuple[Path, pd.DataFrame]:
    results = tmp_path / "results"
    proc = run_cli("run", "--results", str(results), *SMALL, *args)
    assert proc.returncode == 0, proc.stderr
    run_dir = (results / "latest").resolve()
    return run_dir, pd.read_csv(run_dir / "trials.csv")


def test_power_loss_separates_always_from_no(backend_kind, tmp_path, request):
    """Lenient metadata, writeback off: always keeps every acknowledged write, no loses them."""
    run_dir, trials = run_matrix(tmp_path, "--configs", "aof-always aof-no", "--faults", "power-loss",
                                 "--fs-writeback", "off", "--backend", backend_kind)
    rows = trials.set_index("config")
    assert set(trials["fault"]) == {"power-loss"}
    assert set(trials["fs_metadata"]) == {"lenient"} and set(trials["fs_writeback"]) == {"off"}
    always, no = rows.loc["aof-always"], rows.loc["aof-no"]
    for column in ("lost_writes", "lost_sessions", "resurrected_sessions", "corrupt_values"):
        assert always[column] == 0, column
    assert not always["restart_failed"]
    # aof-no never fsyncs: everything since the baseline rewrite was in memory only
    assert no["unsynced_bytes_at_cut"] > 0
    assert no["lost_writes"] > 0 and no["lost_sessions"] > 0
    assert no["loss_window_s"] > 0
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path / "results", docker)
    assert fuse_mounts(str(tmp_path)) == []
    report = (run_dir / "report.md").read_text()
    assert "power-loss" in report


def test_torn_power_loss_is_reported_as_a_refused_or_a_truncated_restart(tmp_path):
    """A torn AOF tail: the server either refuses it (restart failed, its own words kept) or
    cuts it and starts; every trial says which, and the harness itself never crashes."""
    run_dir, trials = run_matrix(tmp_path, "--configs", "aof-everysec", "--faults", "torn-power-loss",
                                 "--fs-writeback", "off", "--backend", "process", "--trials", "4")
    assert len(trials) == 4
    for row in trials.to_dict("records"):
        if row["restart_failed"]:
            # the server's own complaint about its AOF ("Bad file format reading the append only
            # file ...", or about the manifest), kept as the trial's outcome
            error = str(row["restart_error"]).lower()
            assert "append only" in error or "aof" in error, row
            assert pd.isna(row["recovery_s"]) and pd.isna(row["downtime_s"]), row
            assert row["dataset_keys"] == 0 and row["lost_sessions"] > 0, row  # the store is down
        else:
            assert row["recovery_s"] > 0, row
        assert row["unsynced_bytes_at_cut"] > 0, row
    assert_nothing_left(tmp_path / "results")
    assert fuse_mounts(str(tmp_path)) == []


def test_strict_metadata_runs_and_says_what_it_dropped(tmp_path):
    """Strict mode: a name is durable only once its directory is fsynced. Whatever the server
    does is a finding; the trial records how many namespace changes the cut dropped."""
    _, trials = run_matrix(tmp_path, "--configs", "aof-always", "--faults", "power-loss", "--fs-metadata", "strict",
                           "--fs-writeback", "off", "--backend", "process")
    row = trials.iloc[0]
    assert row["fs_metadata"] == "strict"
    assert row["metadata_dropped"] >= 0
    if row["metadata_dropped"] > 0:
        assert isinstance(row["metadata_dropped_detail"], str) and row["metadata_dropped_detail"]
    if not row["restart_failed"]:
        # Redis 7 fsyncs appendonlydir after its renames: acknowledged writes survive even here
        assert row["lost_writes"] == 0
    assert fuse_mounts(str(tmp_path)) == []


def test_asking_for_power_loss_without_fuse_is_a_clear_error(tmp_path, monkeypatch):
    proc = run_cli("run", "--results", str(tmp_path / "r"), *SMALL, "--configs", "none", "--faults", "power-loss",
                   "--backend", "process", env={"CRASH_MATRIX_FUSE_DEVICE": str(tmp_path / "no-fuse")})
    assert proc.returncode != 0
    assert "fault power-loss needs FUSE" in proc.stderr
