"""The recovery curve against a real server (process backend), and its growth fit on known numbers."""

from __future__ import annotations

import gc
import json
import os
import random
import zlib
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.report.recovery import build_recovery_report, fit_line, growth, sentences
from harness.server import ServerSpec, free_port
from harness.server.logs import server_load_seconds
from harness.server.process import ProcessBackend
from harness.runner.shard import HOST, RECORDS
from harness.runner.worker import run_spec
from harness.spec import TrialSpec
from harness.workload.fill import session_values
from harness.workload.session import SessionValues
from scenarios.recovery_curve import (
    CONFIG_NAMES,
    COLUMNS,
    CurveOptions,
    disk_usage,
    fill,
    parse_sizes,
    plan,
    run_recovery_curve,
)

from conftest import CONFIGS

SIZES = [200, 2000]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def servers_on(root: Path) -> list[str]:
    """Server processes still running on anything under `root`.

    Redis rewrites its command line to "redis-server 127.0.0.1:<port>" (set-proc-title), so the
    data directory is not in it; the process backend starts each server with its data directory
    as working directory, so that is checked as well as the command line.
    """
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if ("-server" in comm or "-server" in cmdline) and (str(root) in cwd or str(root) in cmdline):
            found.append(f"{pid} {cmdline} (in {cwd})")
    return found


def _run(results, sizes=SIZES, configs=None, repeats=1, echo=None, **kw):
    lines: list[str] = []
    path = run_recovery_curve(sizes, configs, "process", "redis:7.4", None, results, repeats,
                              echo or lines.append, configs_dir=CONFIGS, **kw)
    return path, lines


def test_recovery_curve_on_a_real_server(tmp_path):
    results = tmp_path / "results"
    run_dir, lines = _run(results)

    assert run_dir.name.startswith("recovery-") and run_dir.parent == results
    assert (results / "recovery-latest").resolve() == run_dir.resolve()
    for name in ("recovery.csv", "environment.json", "recovery.png", "recovery.md", "recovery.html"):
        assert (run_dir / name).is_file(), name
    for config in CONFIG_NAMES:
        assert (run_dir / "configs" / f"{config}.conf").is_file()
        for size in SIZES:
            log = (run_dir / "logs" / f"{config}__{size}.log").read_text()
            assert log.count("Ready to accept connections") >= 2  # the first start and the restart
    no_preamble = (run_dir / "configs" / "aof-everysec-no-preamble.conf").read_text()
    assert no_preamble.splitlines()[-1] == "aof-use-rdb-preamble no"
    assert (CONFIGS / "aof-everysec.conf").read_text().strip() in no_preamble  # the same plus that line
    assert not (run_dir / "data").exists()  # data removed without keep_data

    rows = pd.read_csv(run_dir / "recovery.csv")
    assert list(rows.columns) == COLUMNS
    assert sorted(zip(rows["config"], rows["sessions"])) == sorted((c, s) for c in CONFIG_NAMES for s in SIZES)
    assert (rows["keys_after"] == rows["sessions"]).all()
    assert (rows["recovery_s"] > 0).all() and (rows["fill_s"] > 0).all()
    assert set(rows["backend"]) == {"process"}
    assert rows["server"].str.match(r"(redis|valkey) \d").all()
    # the server's own figure comes from the restart's log lines, and is below the wall-clock recovery
    assert rows["server_load_s"].notna().all()
    assert (rows["server_load_s"] <= rows["recovery_s"]).all()

    by = rows.set_index(["config", "sessions"])
    for config in CONFIG_NAMES:
        assert by.loc[(config, 2000), "data_bytes"] > by.loc[(config, 200), "data_bytes"]
    assert (by.loc["rdb", "rdb_bytes"] > 0).all() and (by.loc["rdb", "aof_base_bytes"] == 0).all()
    assert set(by.loc["aof-everysec", "aof_base_format"]) == {"rdb"}
    assert set(by.loc["aof-everysec-no-preamble", "aof_base_format"]) == {"aof"}
    # Commands are bigger than RDB encoding: it holds at 200 sessions already (about 1.2x here)
    # and more at 2000 (each session is a SET plus a PEXPIREAT in a command AOF).
    for size in SIZES:
        assert by.loc[("aof-everysec-no-preamble", size), "aof_base_bytes"] > \
            1.1 * by.loc[("aof-everysec", size), "aof_base_bytes"]
    assert (rows["harness_peak_rss_mb"] > 0).all() and (rows["harness_peak_rss_mb"] < 1000).all()

    environment = json.loads((run_dir / "environment.json").read_text())
    assert environment["sizes"] == SIZES and environment["wall_s"] > 0
    assert (run_dir / "recovery.png").read_bytes()[:8] == PNG_MAGIC
    md = (run_dir / "recovery.md").read_text()
    assert "ms per 100k sessions" in md and "| aof-everysec-no-preamble | 2,000 |" in md
    assert "<img src=\"recovery.png\"" in (run_dir / "recovery.html").read_text()
    assert any("ready in" in line for line in lines) and any("fill:" in line for line in lines)
    assert servers_on(results) == []


def test_ctrl_c_mid_run_keeps_rows_and_leaves_nothing_running(tmp_path):
    results = tmp_path / "results"
    seen: list[str] = []

    def echo(line: str) -> None:
        seen.append(line)
        if line.startswith("[aof-everysec 300] fill:"):  # the second point, its server up and full
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(results, sizes=[300], configs=["rdb", "aof-everysec"], echo=echo)
    run_dir = (results / "recovery-latest").resolve()
    rows = pd.read_csv(run_dir / "recovery.csv")
    assert list(rows["config"]) == ["rdb"] and rows["keys_after"].tolist() == [300]
    assert (run_dir / "recovery.png").is_file()  # the report is built from what finished
    assert servers_on(results) == []


def test_a_server_that_dies_mid_fill_is_one_line_error(tmp_path, caplog):
    backend = ProcessBackend()
    backend.prepare(lambda message: None)
    data = tmp_path / "data"
    data.mkdir()
    server = backend.server(ServerSpec("dies", CONFIGS / "none.conf", data, tmp_path / "server.log", free_port()))
    try:
        server.start()
        killer = threading.Timer(0.3, server.kill)
        killer.start()
        began = time.monotonic()
        with pytest.raises(HarnessError, match=r"^filling server dies failed: ") as error:
            fill(server, 5_000_000)  # far more than 0.3 s of work
        killer.join()
        assert time.monotonic() - began < 10 and "\n" not in str(error.value)
    finally:
        backend.cleanup()
    gc.collect()
    assert "never retrieved" not in caplog.text  # asyncio logs unread failed replies
    assert servers_on(tmp_path) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"configs": ["rdb", "aof-sometimes"]}, r"unknown config 'aof-sometimes'.*choose from rdb, aof-everysec"),
    ({"sizes": [1000, 0]}, r"size 0 is not allowed"),
    ({"sizes": []}, r"no sizes given"),
    ({"repeats": 0}, r"repeats must be .* at least 1"),
])
def test_bad_input_is_one_line_and_creates_nothing(tmp_path, kwargs, message):
    results = tmp_path / "results"
    with pytest.raises(HarnessError, match=message) as error:
        _run(results, **kwargs)
    assert "\n" not in str(error.value)
    assert not results.exists() or not any(results.iterdir())


def test_sizes_from_text():
    assert parse_sizes("1000000 10000, 100k 10_000") == [10_000, 100_000, 1_000_000]
    assert parse_sizes("2k 1M") == [2_000, 1_000_000]
    for bad, message in [("10000 ten", "'ten' is not a number"), ("0", "size 0 is not allowed"),
                         ("-5", "'-5' is not a number"), ("", "no sizes given"), ("1.5k", "'1.5k' is not")]:
        with pytest.raises(HarnessError, match=message):
            parse_sizes(bad)


def test_growth_fit_on_known_numbers():
    sessions = np.array([10_000, 100_000, 1_000_000] * 2, dtype=float)
    exact = 0.020 + 3e-6 * sessions  # 20 ms fixed, 300 ms per 100k sessions
    fit = fit_line(sessions, exact)
    assert fit.ms_per_100k == pytest.approx(300.0)
    assert fit.intercept == pytest.approx(0.020)
    assert fit.r2 == pytest.approx(1.0) and fit.points == 6

    noisy = exact + np.array([0.004, -0.003, 0.05, -0.004, 0.003, -0.05])
    fit = fit_line(sessions, noisy)
    slope, intercept = np.polyfit(sessions, noisy, 1)
    assert fit.slope == pytest.approx(slope) and fit.intercept == pytest.approx(intercept)
    assert 0.9 < fit.r2 < 1.0
    assert np.isnan(fit_line([5, 5], [1.0, 2.0]).slope)  # one size: no growth rate

    frame = pd.DataFrame({
        "config": ["a"] * 3 + ["b"] * 3,
        "sessions": [10_000, 100_000, 1_000_000] * 2,
        "recovery_s": [0.05, 0.32, 3.02, 0.03, 0.12, 1.02],
        "server_load_s": [0.04, 0.31, 3.01, 0.02, 0.11, 1.01],
        "data_bytes": [4_000_000, 40_000_000, 400_000_000, 3_200_000, 32_000_000, 320_000_000],
        "fill_rate_s": [1e5] * 6,
        "keys_after": [10_000, 100_000, 1_000_000] * 2,
    })
    a, b = growth(frame)
    assert a.recovery.ms_per_100k == pytest.approx(300.0) and b.recovery.ms_per_100k == pytest.approx(100.0)
    assert a.bytes_per_session == pytest.approx(400.0) and b.bytes_per_session == pytest.approx(320.0)
    text = sentences([a, b])
    assert text[0].startswith("a: recovery grows by 300 ms per 100k sessions")
    assert "400 bytes per session" in text[0]
    assert "At 1,000,000 sessions a took 3.0× as long to recover as b" in text[2]


def test_log_figure_and_file_sizes(tmp_path):
    log = ("1:M * DB loaded from disk: 0.250 seconds\n...\n"
           "2:M * DB loaded from base file appendonly.aof.3.base.aof: 1.100 seconds\n"
           "2:M * DB loaded from append only file: 1.234 seconds\n")
    assert server_load_seconds(log) == 1.234  # the last load, the whole AOF (not the base file alone)
    assert np.isnan(server_load_seconds("Ready to accept connections"))

    (tmp_path / "dump.rdb").write_bytes(b"r" * 10)
    aof = tmp_path / "appendonlydir"
    aof.mkdir()
    (aof / "appendonly.aof.2.base.rdb").write_bytes(b"b" * 100)
    (aof / "appendonly.aof.2.incr.aof").write_bytes(b"i" * 7)
    (aof / "appendonly.aof.manifest").write_bytes(b"m" * 3)
    usage = disk_usage(tmp_path)
    assert (usage.rdb_bytes, usage.aof_base_bytes, usage.aof_incr_bytes, usage.data_bytes) == (10, 100, 7, 120)
    assert usage.aof_base_format == "rdb"


def test_report_rebuilds_from_the_csv_alone(tmp_path):
    rows = pd.DataFrame([{c: 0 for c in COLUMNS} | {
        "server": "redis 7.0.15", "backend": "process", "config": config, "sessions": n, "repeat": 1,
        "fill_s": 0.1, "fill_rate_s": 1e5, "persist_s": 0.1, "persisted_by": "bgsave", "aof_base_format": "",
        "data_bytes": 300 * n, "rdb_bytes": 300 * n, "recovery_s": 0.01 + 1e-6 * n, "server_load_s": 1e-6 * n,
        "keys_after": n, "keys_ok": True, "server_used_memory_mb": 1.0, "harness_peak_rss_mb": 40.0,
    } for config in ("rdb", "aof-everysec") for n in (100, 1000)])
    rows.to_csv(tmp_path / "recovery.csv", index=False)
    paths = build_recovery_report(tmp_path)
    assert paths["recovery.png"].read_bytes()[:8] == PNG_MAGIC
    assert "rdb: recovery grows by 100 ms per 100k sessions" in paths["recovery.md"].read_text()


def test_plan_is_one_spec_per_point_and_each_travels_as_json():
    curve = plan(CurveOptions([2000, 200], configs_dir=CONFIGS, repeats=2))
    assert [s.trial_id for s in curve.specs] == [f"{c}__{n}" for c in CONFIG_NAMES for n in (200, 2000)]
    assert [c.name for c in curve.configs] == CONFIG_NAMES
    no_preamble = next(c for c in curve.configs if c.name == "aof-everysec-no-preamble")
    assert no_preamble.text.splitlines()[-1] == "aof-use-rdb-preamble no" and no_preamble.description
    for spec in curve.specs:
        assert spec.scenario == "recovery-curve" and spec.scenario_options["repeats"] == 2
        assert TrialSpec.from_json(spec.to_json()) == spec
    assert curve.environment["sizes"] == [200, 2000] and curve.environment["fill_batch"] > 0


def test_one_point_runs_from_its_spec_alone_as_a_worker_would(tmp_path):
    """The same trial code from a JSON spec: its shard holds a row per repeat, the host, the log."""
    [spec] = plan(CurveOptions([300], ["rdb"], repeats=2, configs_dir=CONFIGS)).specs
    spec = TrialSpec.from_json(spec.to_json())
    shard = run_spec(spec, tmp_path / "shard", lambda line: None, probe_disk=False)
    rows = shard.read_json(RECORDS)
    assert [r["repeat"] for r in rows] == [1, 2] and all(r["keys_after"] == 300 and r["keys_ok"] for r in rows)
    assert set(rows[0]) == set(COLUMNS) and rows[0]["rdb_bytes"] > 0
    assert shard.read_json(HOST)["server"]["name"] in ("redis", "valkey")
    assert (shard.logs_dir / "rdb__300.log").read_text().count("Ready to accept connections") == 3
    assert not shard.data_dir.exists()  # no keep_data: the data goes with the server
    assert servers_on(tmp_path) == []


def test_fill_values_are_session_json_padded_with_text_that_does_not_compress():
    random_pad = session_values(seed=7, value_bytes=300, writer=0)
    x_pad = SessionValues(random.Random(7 * 1009), 300, 0)
    one, plain = random_pad.next(1), x_pad.next(1)
    assert abs(len(one) - len(plain)) <= 2 and len(one) >= 290
    assert json.loads(one)["sid"] == 1 and b"xxxx" in plain and b"xxxx" not in one
    assert len(zlib.compress(one)) > 1.5 * len(zlib.compress(plain))  # what RDB's LZF would see, roughly
    again = session_values(seed=7, value_bytes=300, writer=0)
    assert json.loads(again.next(1))["pad"] == json.loads(one)["pad"]  # the same seed, the same data
