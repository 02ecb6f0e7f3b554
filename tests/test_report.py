"""Tests of the report renderer (harness.report).

The results folders built here are synthetic fixtures for the renderer, made up by hand so
the expected medians and sentences can be computed by hand: they are not measurements and
must never be presented as such.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report import build_report, caveats, recommendation, summary_table
from harness.report.render import html_inline, md_escape
from harness.report.rundata import read_trials
from harness.report.sections.crash_matrix.driver import driver_notes, driver_table
from harness.report.sections.crash_matrix.fsync import fsync_notes, fsyncs_every_write
from harness.report.sections.crash_matrix.method import method
from harness.report.sections.crash_matrix.tables import display_summary
from harness.report.series import latency_series
from harness.schema import records_frame, records_from_rows

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOAD_START_NS = 1_700_000_000_000_000_000
KILL_AT_S = 2.0
READY_AT_S = 2.4

# Synthetic per-trial numbers: (lost_sessions, resurrected, corrupt, throughput, p99_ms, recovery_s)
FIXTURE = {
    "none": [(5012, 0, 0, 30000.0, 1.10, 0.05), (4900, 0, 0, 31000.0, 1.20, 0.06), (5100, 0, 0, 29500.0, 1.00, 0.04)],
    "aof-everysec": [(0, 0, 0, 21400.0, 2.10, 0.30), (0, 0, 0, 22000.0, 2.30, 0.32), (0, 0, 0, 20800.0, 2.00, 0.28)],
    "aof-always": [(0, 0, 0, 9000.0, 4.00, 0.31), (0, 0, 0, 9500.0, 4.50, 0.33), (0, 0, 0, 8800.0, 3.90, 0.29)],
    "rdb": [(40, 2, 0, 25000.0, 1.50, 0.20), (0, 0, 0, 26000.0, 1.60, 0.21), (55, 3, 0, 24000.0, 1.40, 0.19)],
}
CONFIG_TEXT = {
    "none": 'save ""\nappendonly no\n',
    "aof-everysec": 'save ""\nappendonly yes\nappendfsync everysec\n',
    "aof-always": 'save ""\nappendonly yes\nappendfsync always\n',
    "rdb": "save 900 1\nappendonly no\n",
}


def trial_rows(fixture: dict = FIXTURE, fault: str = "kill9") -> list[dict]:
    """Rows as an older harness wrote them; a 7th element in a tuple adds `restart_failed`."""
    rows = []
    for config, trials in fixture.items():
        for n, (lost, resurrected, corrupt, throughput, p99, recovery, *restart) in enumerate(trials, 1):
            rows.append({
                "run_id": "synthetic", "trial_id": f"{config}__{fault}__{n}", "server": "redis 7.0.15",
                "backend": "process", "image": "redis:7.0.15", "config": config,
                "config_description": f"synthetic fixture <{config}>", "fault": fault, "trial": n, "seed": 100 + n,
                "duration_s": 3, "concurrency": 4, "baseline_sessions": 100, "acked_writes": 1000 + n,
                "lost_writes": lost * 2, "lost_sessions": lost, "resurrected_sessions": resurrected,
                "stale_refreshes": 0, "old_values": 0, "corrupt_values": corrupt, "unknown_ops": 4,
                "loss_window_s": 0.5 if lost else 0.0, "ops": 3000, "throughput_ops_s": throughput,
                "p50_ms": 0.25, "p99_ms": p99, "p999_ms": p99 * 2, "recovery_s": recovery,
                "dataset_keys": 500, "kill_at_s": KILL_AT_S, "ready_at_s": READY_AT_S,
                "load_start_ns": LOAD_START_NS, "kill_ns": LOAD_START_NS + int(KILL_AT_S * 1e9),
                "ready_ns": LOAD_START_NS + int(READY_AT_S * 1e9),
            })
            if restart:
                rows[-1]["restart_failed"] = bool(restart[0])
    return rows


def synthetic_history(seed: int) -> pd.DataFrame:
    """A small history following the stored schema: load ops, unknowns at the kill, after-fault logins."""
    rng = np.random.default_rng(seed)
    n_load, n_after = 600, 200
    load_start = np.sort(rng.uniform(0, KILL_AT_S, n_load))
    after_start = np.sort(rng.uniform(READY_AT_S, 3.0, n_after))
    starts = np.concatenate([[-0.5, -0.4], load_start, [KILL_AT_S - 0.001] * 3, after_start])
    latency_s = rng.uniform(0.0001, 0.002, len(starts))
    latency_s[2 + n_load:2 + n_load + 3] = 0.5  # the in-flight requests wait for a timeout
    phase = ["baseline"] * 2 + ["load"] * (n_load + 3) + ["after"] * n_after
    outcome = ["ok"] * (2 + n_load) + ["unknown"] * 3 + ["ok"] * n_after
    kind = rng.choice(["login", "read", "refresh", "logout"], len(starts))
    start_ns = (LOAD_START_NS + starts * 1e9).astype("int64")
    return pd.DataFrame({
        "phase": pd.Categorical(phase, categories=["baseline", "load", "after"]),
        "worker": pd.array(rng.integers(0, 4, len(starts)), dtype="int16"),
        "kind": pd.Categorical(kind, categories=["login", "read", "refresh", "logout"]),
        "key": pd.array(rng.integers(0, 500, len(starts)), dtype="int64"),
        "start_ns": pd.array(start_ns, dtype="int64"),
        "end_ns": pd.array(start_ns + (latency_s * 1e9).astype("int64"), dtype="int64"),
        "outcome": pd.Categorical(outcome, categories=["ok", "fail", "unknown"]),
        "value_hash": pd.array(rng.integers(1, 2**40, len(starts)), dtype="int64"),
        "ttl_ms": pd.array([60000] * len(starts), dtype="int64"),
        "result": pd.array([-1] * len(starts), dtype="int64"),
        "error": pd.Categorical([""] * len(starts)),
    })


def write_run(root: Path, rows: list[dict], environment: dict | None = None, histories: bool = True) -> Path:
    run = root / "run"
    (run / "histories").mkdir(parents=True)
    (run / "configs").mkdir()
    pd.DataFrame(rows).to_csv(run / "trials.csv", index=False)
    env = {
        "run_id": "synthetic", "server": "redis", "server_version": "7.0.15", "backend": "process",
        "image": "redis:7.0.15", "image_built_locally": False, "binary": "/usr/bin/redis-server",
        "kernel": "6.1", "cpu_count": 4, "duration_s": 3, "trials": 3,
        "workload": {"concurrency": 4, "mix": "login=25,read=55,refresh=15,logout=5"},
        "configs": sorted({r["config"] for r in rows}), "faults": ["kill9"],
    } if environment is None else environment
    (run / "environment.json").write_text(json.dumps(env))
    for config in dict.fromkeys(r["config"] for r in rows):
        (run / "configs" / f"{config}.conf").write_text(CONFIG_TEXT.get(config, "# synthetic\n"))
    if histories:
        for i, row in enumerate(rows):
            synthetic_history(i).to_parquet(run / "histories" / f"{row['trial_id']}.parquet", index=False)
    return run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path, trial_rows())


def frame_of(rows: list[dict]) -> pd.DataFrame:
    """Rows as the report reads them: typed records (harness.schema), as one table."""
    return records_frame(records_from_rows(rows))


def summary_from(fixture: dict, fault: str = "kill9") -> pd.DataFrame:
    return summary_table(frame_of(trial_rows(fixture, fault)))


# -- summary_table --------------------------------------------------------------------------------

def test_summary_table_medians_and_spread() -> None:
    summary = summary_from(FIXTURE)
    assert summary["config"].tolist() == ["none", "aof-everysec", "aof-always", "rdb"]
    assert summary["fault"].tolist() == ["kill9"] * 4
    assert summary["trials"].tolist() == [3, 3, 3, 3]
    none = summary.iloc[0]
    assert none["lost_sessions"] == 5012
    assert (none["lost_sessions_min"], none["lost_sessions_max"]) == (4900, 5100)
    assert none["lost_writes"] == 10024
    assert none["throughput_ops_s"] == 30000.0
    assert (none["throughput_ops_s_min"], none["throughput_ops_s_max"]) == (29500.0, 31000.0)
    assert none["p99_ms"] == pytest.approx(1.10)
    assert (none["p99_ms_min"], none["p99_ms_max"]) == (pytest.approx(1.00), pytest.approx(1.20))
    assert none["p999_ms"] == pytest.approx(2.20)
    assert none["recovery_s"] == pytest.approx(0.05)
    assert (none["recovery_s_min"], none["recovery_s_max"]) == (pytest.approx(0.04), pytest.approx(0.06))
    assert none["acked_writes"] == 1002
    rdb = summary.iloc[3]
    assert rdb["lost_sessions"] == 40 and rdb["lost_sessions_min"] == 0 and rdb["lost_sessions_max"] == 55
    assert rdb["resurrected_sessions"] == 2 and rdb["resurrected_sessions_max"] == 3
    assert rdb["trials_without_loss"] == 1
    assert rdb["loss_window_s"] == 0.5
    for column in ("config", "fault", "trials", "acked_writes", "lost_sessions", "lost_sessions_min",
                   "lost_sessions_max", "lost_writes", "resurrected_sessions", "stale_refreshes", "corrupt_values",
                   "loss_window_s", "throughput_ops_s", "throughput_ops_s_min", "throughput_ops_s_max", "p50_ms",
                   "p99_ms", "p99_ms_min", "p99_ms_max", "p999_ms", "recovery_s", "recovery_s_min",
                   "recovery_s_max"):
        assert column in summary.columns, column


def test_summary_table_even_trials_median_is_midpoint_and_order_is_first_seen() -> None:
    rows = trial_rows({"b": [(10, 0, 0, 100.0, 1.0, 0.1), (20, 0, 0, 300.0, 2.0, 0.3)],
                       "a": [(0, 0, 0, 200.0, 1.0, 0.1)]})
    rows += trial_rows({"b": [(7, 0, 0, 50.0, 1.0, 0.1)]}, fault="power-loss")
    rows.insert(0, rows.pop(2))  # "a" now appears first in the file
    summary = summary_table(frame_of(rows))
    assert list(zip(summary["config"], summary["fault"])) == [("a", "kill9"), ("b", "kill9"), ("b", "power-loss")]
    b = summary.iloc[1]
    assert b["trials"] == 2
    assert b["lost_sessions"] == 15
    assert b["throughput_ops_s"] == 200.0
    assert b["p99_ms"] == 1.5


# -- recommendation -------------------------------------------------------------------------------

def test_recommends_fastest_zero_loss_config() -> None:
    sentences = recommendation(summary_from(FIXTURE))
    first = sentences[0]
    assert first.startswith("For a session store that must keep every acknowledged login through a process crash "
                            "(kill -9), use `aof-everysec`")
    assert "lost 0 acknowledged sessions in 3 of 3 trials" in first
    assert "21,400 ops/s" in first
    assert "71% of the fastest config (`none`" in first  # floor(100 * 21400 / 30000)
    assert "lost a median of 5,012 acknowledged sessions, 4,900–5,100 over 3 trials" in first


def test_never_recommends_a_config_that_lost_sessions_in_any_trial() -> None:
    # rdb is fastest of the rest and has a median of 0 lost, but lost 9 in one trial
    fixture = {
        "rdb": [(0, 0, 0, 50000.0, 1.0, 0.1), (9, 0, 0, 50000.0, 1.0, 0.1), (0, 0, 0, 50000.0, 1.0, 0.1)],
        "aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3)] * 3,
    }
    sentences = recommendation(summary_from(fixture))
    assert "use `aof-always`" in sentences[0]
    assert "use `rdb`" not in " ".join(sentences)
    assert "(`rdb`, which lost a median of 0 acknowledged sessions, 0–9 over 3 trials)" in sentences[0]


def test_says_when_no_config_has_zero_loss() -> None:
    fixture = {
        "none": [(5000, 0, 0, 30000.0, 1.0, 0.1)] * 3,
        "rdb": [(40, 0, 0, 25000.0, 1.0, 0.1), (30, 0, 0, 26000.0, 1.0, 0.1), (0, 0, 0, 24000.0, 1.0, 0.1)],
    }
    text = " ".join(recommendation(summary_from(fixture)))
    assert "no config kept every acknowledged session in every trial" in text
    assert "fewest lost sessions was `rdb`" in text
    assert "lost a median of 30 acknowledged sessions, 0–40 over 3 trials" in text
    assert "with no loss in 1 of 3 trials" in text
    assert "The fastest config under a process crash (kill -9) was `none` at 30,000 ops/s" in text
    assert "lost 5,000 acknowledged sessions in each of 3 trials" in text
    assert "use `" not in text


def test_resurrection_is_a_security_problem_and_disqualifies() -> None:
    fixture = {
        "rdb": [(0, 4, 0, 50000.0, 1.0, 0.1), (0, 0, 0, 51000.0, 1.0, 0.1), (0, 2, 0, 52000.0, 1.0, 0.1)],
        "aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3)] * 3,
    }
    sentences = recommendation(summary_from(fixture))
    assert "use `aof-always`" in sentences[0]
    security = [s for s in sentences if "**Security problem**" in s]
    assert len(security) == 1
    assert "`rdb` (median 2, up to 4 in a trial) resurrected logged-out sessions" in security[0]
    assert "logged in again" in security[0]
    assert "aof-always" not in security[0]


def test_overlapping_zero_loss_configs_are_within_noise() -> None:
    fixture = {
        "aof-everysec": [(0, 0, 0, 21000.0, 1.0, 0.1), (0, 0, 0, 22000.0, 1.0, 0.1), (0, 0, 0, 23000.0, 1.0, 0.1)],
        "rdb+aof-everysec": [(0, 0, 0, 20500.0, 1.0, 0.1), (0, 0, 0, 21500.0, 1.0, 0.1),
                             (0, 0, 0, 21200.0, 1.0, 0.1)],
        "aof-always": [(0, 0, 0, 9000.0, 1.0, 0.1)] * 3,
    }
    sentences = recommendation(summary_from(fixture))
    assert "use `aof-everysec`" in sentences[0]
    noise = [s for s in sentences if "measurement noise" in s]
    assert len(noise) == 1
    assert "`rdb+aof-everysec` (20,500–21,500 ops/s)" in noise[0]
    assert "`aof-everysec` (21,000–23,000 ops/s)" in noise[0]
    assert "aof-always" not in noise[0]  # 9,000 ops/s is clearly slower, not noise


def test_says_when_the_price_of_durability_is_within_noise() -> None:
    fixture = {
        "none": [(9823, 0, 0, 15906.0, 1.0, 0.01), (12625, 0, 0, 25812.0, 1.0, 0.02)],
        "aof-everysec": [(0, 0, 0, 16127.0, 1.0, 0.09), (0, 0, 0, 23164.0, 1.0, 0.11)],
    }
    sentences = recommendation(summary_from(fixture))
    assert "use `aof-everysec`" in sentences[0] and "94% of the fastest config (`none`" in sentences[0]
    assert "(`none`, which lost a median of 11,224 acknowledged sessions, 9,823–12,625 over 2 trials)" in sentences[0]
    assert sentences[1] == ("Under a process crash (kill -9), the throughput ranges of `aof-everysec` "
                            "(16,127–23,164 ops/s) and `none` (15,906–25,812 ops/s) overlap: in this run the speed "
                            "given up for keeping every session is within measurement noise.")
    # Separated ranges: no such sentence.
    fixture["none"] = [(9823, 0, 0, 30000.0, 1.0, 0.01), (12625, 0, 0, 31000.0, 1.0, 0.02)]
    assert not any("overlap" in s for s in recommendation(summary_from(fixture)))


def test_sentences_are_grouped_by_fault() -> None:
    summary = pd.concat([summary_from(FIXTURE), summary_from(
        {"aof-always": [(3, 0, 0, 9000.0, 4.0, 0.3)] * 3, "none": [(5000, 0, 0, 30000.0, 1.0, 0.1)] * 3},
        fault="power-loss")], ignore_index=True)
    sentences = recommendation(summary)
    kill9 = [s for s in sentences if "kill -9" in s]
    power = [s for s in sentences if "power loss" in s]
    assert kill9 and power and len(kill9) + len(power) == len(sentences)
    assert any("use `aof-everysec`" in s for s in kill9)
    assert any("fewest lost sessions was `aof-always`" in s for s in power)
    assert not any("torn" in s for s in sentences)
    # kill9 sentences come first, as in the data
    assert sentences.index(kill9[0]) < sentences.index(power[0])


def test_single_config_single_trial() -> None:
    sentences = recommendation(summary_from({"aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3)]}))
    assert sentences[0] == ("For a session store that must keep every acknowledged login through a process crash "
                            "(kill -9), use `aof-always`: it lost 0 acknowledged sessions in 1 of 1 trials and ran "
                            "at 9,000 ops/s (the only config measured under this fault).")
    # kill -9 alone: the scope is said, since the page cache survives a process crash
    assert len(sentences) == 2 and "Only a process crash (kill -9) was measured" in sentences[1]


NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def _numbers_in(sentences: list[str]) -> set[str]:
    text = " ".join(sentences).replace("kill -9", "")
    text = re.sub(r"`[^`]*`", "", text)  # config and fault names may contain digits
    return set(NUMBER.findall(text))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["none", "rdb", "aof-no", "aof-always", "aof-everysec"]),
    st.lists(st.tuples(st.integers(0, 3) | st.integers(0, 9000), st.integers(0, 2) | st.just(0), st.just(0),
                       st.integers(1000, 60000).map(float), st.just(1.0), st.just(0.1),
                       st.just(False) | st.booleans()), min_size=1, max_size=4),
    min_size=1, max_size=5))
def test_recommendation_properties(fixture: dict) -> None:
    summary = summary_from(fixture)
    sentences = recommendation(summary)
    text = " ".join(sentences)
    recommended = re.findall(r"use `([^`]+)`", text)
    assert len(recommended) <= 1
    # A config qualifies only if it lost, resurrected nothing and restarted in every trial.
    qualifies = ((summary["lost_sessions_max"] == 0) & (summary["resurrected_sessions_max"] == 0)
                 & (summary["restart_failed"] == 0))
    for config in recommended:
        row = summary[summary["config"] == config].iloc[0]
        assert row["lost_sessions_max"] == 0 and row["resurrected_sessions_max"] == 0
        assert row["restart_failed"] == 0
        assert row["throughput_ops_s"] == summary.loc[qualifies, "throughput_ops_s"].max()
    if not recommended:
        assert not qualifies.any()
    for _, row in summary[summary["restart_failed"] > 0].iterrows():
        assert f"`{row['config']}` failed to restart in {int(row['restart_failed'])} of {row['trials']} trials" in text
    # Every number written is a value of the data (formatted as the tables do), a trial count, or a percentage.
    allowed = set()
    for _, row in summary.iterrows():
        for column, value in row.items():
            if column in ("config", "fault") or not isinstance(value, (int, float)) or np.isnan(value):
                continue
            allowed |= {f"{value:,.0f}", f"{value:,.1f}", f"{value:.2f}",
                        f"{int(value):,}" if float(value).is_integer() else ""}
    percents = set(re.findall(r"(\d+)%", text))
    assert _numbers_in(sentences) - allowed - percents == set()


# -- caveats ---------------------------------------------------------------------------------------

def test_caveats_follow_the_environment() -> None:
    trials = frame_of(trial_rows(FIXTURE))
    base = caveats({"duration_s": 30, "backend": "docker", "cpu_count": 8}, trials)
    text = " ".join(base)
    assert "page cache" in text and "appendfsync" in text and "not measured here" in text
    assert "30 seconds" in text and "bounded by the trial length" in text
    assert "8 CPUs" in text and "medians" in text
    assert "could not be pulled" not in text and "local process" not in text

    local = " ".join(caveats({"backend": "process", "image": "redis:7.2", "image_used": "crash-matrix/redis:local",
                              "image_built_locally": True, "image_note": "built from the 7.0.15 sources"}, trials))
    assert "`redis:7.2` could not be pulled" in local
    assert "crash-matrix/redis:local" in local and "built from the 7.0.15 sources" in local
    assert "local process" in local and "not in a container" in local


# -- build_report ----------------------------------------------------------------------------------

def test_build_report_writes_all_files(run_dir: Path) -> None:
    """FIXTURE rows predate the ceiling, HdrHistogram, downtime and power-loss columns: an old folder."""
    paths = build_report(run_dir)
    trial_ids = [f"{config}__kill9__{n}" for config in FIXTURE for n in (1, 2, 3)]
    assert set(paths) == {"report.html", "report.md", "tradeoff.png", "latency.png"} | {
        f"charts/{t}.png" for t in trial_ids}
    for name, path in paths.items():
        assert path == run_dir / name and path.is_file() and path.stat().st_size > 0
    for name in ("tradeoff.png", "latency.png"):
        data = paths[name].read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000

    html = paths["report.html"].read_text()
    md = paths["report.md"].read_text()
    for config in FIXTURE:
        assert f"<code>{config}</code>" in html
        assert f"`{config}`" in md
    assert "use <code>aof-everysec</code>" in html and "use `aof-everysec`" in md
    assert '<img src="tradeoff.png"' in html and '<img src="latency.png"' in html
    assert "](tradeoff.png)" in md and "](latency.png)" in md
    assert "5,012 (4,900–5,100)" in html and "5,012 (4,900–5,100)" in md  # lost sessions of none
    assert "21,400 (20,800–22,000)" in html  # throughput of aof-everysec
    assert "0.050 (0.040–0.060)" in html and "1.10 (1.00–1.20)" in html  # recovery s and p99 ms of none
    assert "appendfsync everysec" in html and "appendfsync everysec" in md  # config files verbatim
    assert "<strong>Security problem</strong>" in html  # rdb resurrected sessions
    assert "redis 7.0.15" in html and "local process" in html
    # every trial is listed; data is escaped, never markup
    # every trial is listed in the table, and has its chart in the gallery (img + link + caption)
    assert html.count("__kill9__") == 12 * 5
    for trial_id in trial_ids:
        assert f'<img src="charts/{trial_id}.png"' in html
        assert f"](charts/{trial_id}.png)" in md
    assert "synthetic fixture &lt;none&gt;" in html and "<none>" not in html
    assert md.count("\\_\\_kill9\\_\\_") == 12 * 2
    assert "No copy of" not in html
    # an old folder: no ceiling, no restart column, no fsync probe; said so, never shown as zeros
    assert "No ceiling was measured in this run" in html and "No ceiling was measured in this run" in md
    assert "<th>Restart failed</th>" not in html and "<th>Downtime (s)</th>" not in html
    assert "disk&#39;s limit" not in html and "The disk's limit" not in md


def test_rebuild_with_a_missing_history(run_dir: Path) -> None:
    build_report(run_dir)
    (run_dir / "histories" / "aof-always__kill9__1.parquet").unlink()
    (run_dir / "report.html").unlink()
    paths = build_report(run_dir)
    html = paths["report.html"].read_text()
    md = paths["report.md"].read_text()
    assert "Latency panel for <code>aof-always</code> skipped" in html
    assert "Latency panel for `aof-always` skipped" in md
    assert paths["latency.png"].read_bytes().startswith(PNG_SIGNATURE)
    # Its per-trial chart is gone (not left over from the first build) and the gallery says why.
    assert "charts/aof-always__kill9__1.png" not in paths
    assert not (run_dir / "charts" / "aof-always__kill9__1.png").exists()
    assert "no chart: history missing or unreadable" in html
    assert "aof-always\\_\\_kill9\\_\\_1: no chart (history missing or unreadable)" in md
    assert (run_dir / "charts" / "aof-always__kill9__2.png").is_file()


def test_build_report_one_trial_no_histories_no_environment(tmp_path: Path) -> None:
    run = write_run(tmp_path, trial_rows({"aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3)]}), environment={},
                    histories=False)
    (run / "environment.json").unlink()
    paths = build_report(run)
    html = paths["report.html"].read_text()
    assert "use <code>aof-always</code>" in html
    assert "no spread to judge noise by" in html
    assert "Latency panel for <code>aof-always</code> skipped" in html
    assert all(p.is_file() for p in paths.values())


def test_latency_series_buckets() -> None:
    history = synthetic_history(0)
    series = latency_series(history, LOAD_START_NS)
    assert series.unknown == 3 and series.failed == 0 and len(series.unknown_s) == 3
    assert series.unknown_ms == pytest.approx([500.0] * 3)  # how long the client waited
    assert series.unknown_s == pytest.approx([KILL_AT_S - 0.001] * 3, abs=1e-6)  # when it sent them
    assert series.bucket_s.min() == 0  # baseline operations (before load start) are left out
    assert series.bucket_s.max() >= READY_AT_S  # after-fault operations are included
    # Buckets by completion time: every acknowledged load and after-fault operation counted once.
    assert series.ops_s.sum() * 0.1 == pytest.approx(600 + 200)
    # Inside the outage (no operation completes from 2.1 to 2.4 s): 0 ops/s, latency lines break.
    outage = (series.bucket_s >= KILL_AT_S + 0.1 - 1e-9) & (series.bucket_s < READY_AT_S - 1e-9)
    assert outage.sum() == 3
    assert (series.ops_s[outage] == 0).all()
    assert np.isnan(series.p50_ms[outage]).all() and np.isnan(series.p99_ms[outage]).all()
    measured = ~np.isnan(series.p50_ms)
    assert measured.sum() >= 26  # 30 buckets over 0-3 s, less the empty ones of the outage
    assert (series.p99_ms[measured] >= series.p50_ms[measured]).all()
    assert ((series.p50_ms[measured] >= 0.1) & (series.p50_ms[measured] <= 2.0)).all()


def test_markdown_escaping() -> None:
    assert md_escape("a__kill9__1") == "a\\_\\_kill9\\_\\_1"
    assert md_escape("x | y") == "x \\| y"


# -- new columns: ceiling, HdrHistogram percentiles, downtime, restarts, power loss ---------------
# Synthetic values again, chosen so the medians can be worked out by hand.

BAD_FORMAT = "Bad file format reading the append only file"
DISK_FSYNC = {"path": "/data/run", "filesystem": "xfs (/data)", "fsyncs": 1200, "seconds": 1.0,
              "fsyncs_per_s": 1200.0, "p50_ms": 0.75, "p99_ms": 2.5, "max_ms": 4.0}


def with_columns(rows: list[dict], **columns: list) -> list[dict]:
    """Set per-trial values of new columns on rows, in order (one list entry per row)."""
    for name, values in columns.items():
        assert len(values) == len(rows)
        for row, value in zip(rows, values):
            row[name] = value
    return rows


def power_rows(config: str, fault: str = "torn-power-loss") -> list[dict]:
    """Three trials; the second one's server refused to start on what survived."""
    rows = trial_rows({config: [(0, 0, 0, 1000.0, 1.0, 0.1), (100, 0, 0, 3000.0, 1.0, float("nan")),
                                (0, 0, 0, 2000.0, 1.0, 0.2)]}, fault=fault)
    return with_columns(
        rows, ceiling_ops_s=[1000.0, 2500.0, 1250.0], driver_ceiling_ratio=[1.0, 0.4, 0.8],
        p95_ms=[0.5, 0.7, 0.6], max_ms=[9.0, 3.0, 5.0], downtime_s=[0.25, float("nan"), 0.35],
        restart_failed=[False, True, False], restart_error=["", BAD_FORMAT, ""],
        unsynced_bytes_at_cut=[4096, 12288, 0], fs_metadata=["strict"] * 3, fs_writeback=["off"] * 3)


def kill9_rows(fixture: dict = FIXTURE, ratios: dict | None = None) -> list[dict]:
    """FIXTURE rows as the current harness writes them (ceiling, p95, max, downtime, restart_failed)."""
    rows = trial_rows(fixture)
    ratios = ratios or {}
    for row in rows:
        ratio = ratios.get(row["config"], 1.1)
        row.update(ceiling_ops_s=row["throughput_ops_s"] / ratio if ratio == ratio else float("nan"),
                   driver_ceiling_ratio=ratio, ceiling_p50_ms=0.2, ceiling_p99_ms=0.9, p95_ms=0.8,
                   max_ms=12.0, downtime_s=0.5, restart_failed=False, restart_error="",
                   unsynced_bytes_at_cut=0, fs_metadata="", fs_writeback="")
    return rows


def test_summary_new_columns_hand_computed(tmp_path: Path) -> None:
    # Through trials.csv and back, as the report reads it: booleans arrive as text or bools.
    path = tmp_path / "trials.csv"
    pd.DataFrame(power_rows("aof-no")).to_csv(path, index=False)
    row = summary_table(read_trials(tmp_path)).iloc[0]
    assert (row["config"], row["fault"], row["trials"]) == ("aof-no", "torn-power-loss", 3)
    assert row["ceiling_ops_s"] == 1250.0  # median of 1000, 2500, 1250
    assert row["driver_ceiling_ratio"] == 0.8  # median of 1.0, 0.4, 0.8
    assert (row["driver_ceiling_ratio_min"], row["driver_ceiling_ratio_max"]) == (0.4, 1.0)
    assert row["p95_ms"] == 0.6 and row["max_ms"] == 5.0
    assert row["downtime_s"] == pytest.approx(0.30)  # median of 0.25 and 0.35: the failed restart has none
    assert (row["downtime_s_min"], row["downtime_s_max"]) == (0.25, 0.35)
    assert row["recovery_s"] == pytest.approx(0.15)
    assert row["restart_failed"] == 1
    assert row["restart_error"] == BAD_FORMAT
    assert row["unsynced_bytes_at_cut"] == 4096  # median of 4096, 12288, 0
    assert (row["fs_metadata"], row["fs_writeback"]) == ("strict", "off")
    assert row["lost_sessions"] == 0 and row["lost_sessions_max"] == 100
    table = display_summary(summary_table(read_trials(tmp_path)))
    cells = dict(zip(table.headers, table.rows[0]))
    assert cells["Restart failed"] == "1 of 3"
    assert cells["Unsynced bytes at cut"] == "4,096"
    assert cells["p95 (ms)"] == "0.60" and cells["Max (ms)"] == "5.00"
    assert cells["Downtime (s)"] == "0.3000 (0.2500–0.3500)"


def test_summary_restart_column_as_text_and_kill9_unsynced_not_applicable() -> None:
    rows = with_columns(trial_rows({"aof-no": [(0, 0, 0, 1.0, 1.0, 0.1)] * 3}),
                        restart_failed=["False", "True", "True"], unsynced_bytes_at_cut=[0, 0, 0])
    summary = summary_table(frame_of(rows))
    assert summary.iloc[0]["restart_failed"] == 2
    cells = dict(zip(*[display_summary(summary).headers, display_summary(summary).rows[0]]))
    assert cells["Restart failed"] == "2 of 3"
    assert "Unsynced bytes at cut" not in cells  # a kill -9 cuts no power: not applicable, so not shown


def test_summary_of_old_rows_has_the_new_columns_empty() -> None:
    summary = summary_from(FIXTURE)
    for column in ("ceiling_ops_s", "driver_ceiling_ratio", "p95_ms", "max_ms", "downtime_s",
                   "unsynced_bytes_at_cut"):
        assert column in summary.columns and summary[column].isna().all(), column
    # The schema reads an old row as restarted (its harness kept only trials whose server restarted):
    # counted as 0, and a column of nothing but "0 of 3" is not shown.
    assert (summary["restart_failed"] == 0).all()
    assert summary["restart_error"].isna().all()
    headers = display_summary(summary).headers
    assert "Restart failed" not in headers and "p95 (ms)" not in headers and "Downtime (s)" not in headers
    # the columns the CLI reads
    for column in ("server", "config", "fault", "trials", "lost_sessions", "lost_sessions_min", "lost_sessions_max",
                   "lost_writes", "resurrected_sessions", "throughput_ops_s", "p99_ms", "recovery_s"):
        assert column in summary.columns


# -- driver against server --------------------------------------------------------------------------

def test_driver_limited_flag_only_below_0_8() -> None:
    ratios = {"none": 0.79, "aof-everysec": 0.8, "aof-always": 1.6, "rdb": float("nan")}
    summary = summary_table(frame_of(kill9_rows(ratios=ratios)))
    notes = driver_notes(summary)
    flagged = [n for n in notes if "Driver-limited" in n]
    assert len(flagged) == 1
    assert "`none` (0.79: 30,000 against 37,975 ops/s)" in flagged[0]  # 30,000 / 0.79
    assert "understates the server" in flagged[0]
    assert "aof-everysec" not in flagged[0] and "aof-always" not in flagged[0]
    assert any("No ceiling was measured for `rdb`" in n for n in notes)
    limits = {row[0]: row[-1] for row in driver_table(summary).rows}
    assert limits == {"none": "driver: understates the server", "aof-everysec": "server", "aof-always": "server",
                      "rdb": "–"}
    text = " ".join(recommendation(summary))
    assert "the load generator, not the server, limited the throughput of `none` (0.79 of the redis-benchmark " \
           "ceiling on the same server)" in text
    assert "its figure understates what the server can do" in text
    # No config below 0.8: no flag anywhere.
    summary = summary_table(frame_of(kill9_rows(ratios={"none": 0.8})))
    assert not any("Driver-limited" in n for n in driver_notes(summary))
    assert "load generator" not in " ".join(recommendation(summary))


def test_method_explains_ratios_above_one_and_the_faults() -> None:
    env = {"workload": {"concurrency": 16, "connections": 4}, "ceiling_requests": 40000, "duration_s": 6}
    kill9 = method(env, faults=["kill9"])
    measures = dict(kill9.measures)
    assert "A ratio above 1 is not an error" in measures["driver/ceiling"]
    assert "16 simulated users over 4 connections" in measures["driver/ceiling"]
    assert "HdrHistogram" in measures["latency"] and "3 significant digits" in measures["latency"]
    assert "last operation acknowledged before the fault" in measures["downtime"]
    steps = " ".join(kill9.steps)
    assert "redis-benchmark" in steps and "40,000 requests" in steps and "total requests / total time" in steps
    assert "power" not in steps and "unsynced bytes at cut" not in measures
    power = method(env, faults=["kill9", "power-loss", "torn-power-loss"])
    steps = " ".join(power.steps)
    assert "cut the power on its filesystem" in steps and "everything not fsynced is gone" in steps
    assert "random page-aligned part of the unsynced writes survives" in steps
    assert "restart has failed" in steps
    assert "unsynced bytes at cut" in dict(power.measures)
    # Old results: no ceiling, no ceiling step or ratio.
    old = method({}, faults=["kill9"], ceiling=False)
    assert "redis-benchmark" not in " ".join(old.steps) and "driver/ceiling" not in dict(old.measures)


# -- the disk's limit ------------------------------------------------------------------------------

def test_fsync_sentence_uses_the_environment_numbers() -> None:
    summary = summary_from(FIXTURE)
    env = {"disk_fsync": DISK_FSYNC, "workload": {"concurrency": 4}}
    [sentence] = fsync_notes(env, summary, CONFIG_TEXT)
    assert "(`xfs (/data)`) took 1,200 fsyncs/s" in sentence
    assert "1,200 fsyncs in 1.000 s; p50 0.75 ms, p99 2.50 ms, max 4.00 ms" in sentence
    assert "one fdatasync per event-loop turn, so a single client could not exceed 1,200 writes/s here" in sentence
    assert "`aof-always` measured 9,000 ops/s with 4 clients, whose writes share fsyncs" in sentence
    assert "aof-everysec" not in sentence and "simulated filesystem" not in sentence
    assert fsync_notes({}, summary, CONFIG_TEXT) == []  # not measured: nothing said
    # No always-fsync config in the run: the rate alone.
    [alone] = fsync_notes(env, summary_from({"none": FIXTURE["none"]}), CONFIG_TEXT)
    assert "1,200 fsyncs/s" in alone and "appendfsync always" not in alone


def test_fsync_every_write_is_read_from_the_config() -> None:
    assert fsyncs_every_write("safe", "appendonly yes\nappendfsync always # group commit\n")
    assert not fsyncs_every_write("aof-always", "appendonly yes\nappendfsync everysec\n")
    assert not fsyncs_every_write("x", "appendonly no\nappendfsync always\n")
    assert not fsyncs_every_write("x", "appendonly yes\nappendfsync always\nappendfsync no\n")  # last one wins
    assert fsyncs_every_write("aof-always", None) and not fsyncs_every_write("custom", None)


# -- restart failures and power loss in the recommendation -------------------------------------------

def test_restart_failures_are_their_own_outcome_and_never_recommended() -> None:
    rows = power_rows("aof-no") + trial_rows({"aof-always": [(0, 0, 0, 500.0, 4.0, 0.3, False)] * 3},
                                             fault="torn-power-loss")
    sentences = recommendation(summary_table(frame_of(rows)))
    text = " ".join(sentences)
    assert ("Under a power loss with torn writes (fault `torn-power-loss`), `aof-no` failed to restart in 1 of 3 "
            f"trials (the server refused what survived: `{BAD_FORMAT}`): **the session store was down**, every "
            "session unavailable") in text
    assert "use `aof-always`" in text and "use `aof-no`" not in text
    assert "(`aof-no`, which lost a median of 0 acknowledged sessions, 0–100 over 3 trials, and failed to " \
           "restart in 1 of 3 trials)" in text
    assert "through a power loss with torn writes (fault `torn-power-loss`), use `aof-always`" in text
    assert "Only a process crash" not in text


def test_a_restart_failure_blocks_a_config_that_lost_nothing() -> None:
    # The server never came back, but the history held no session to lose: still not "zero loss".
    fixture = {"aof-no": [(0, 0, 0, 50000.0, 1.0, 0.1, True), (0, 0, 0, 50000.0, 1.0, 0.1, False)],
               "aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3, False)] * 2}
    sentences = recommendation(summary_from(fixture, fault="power-loss"))
    assert "use `aof-always`" in sentences[0]
    assert any("`aof-no` failed to restart in 1 of 2 trials (the server would not start on what survived)" in s
               for s in sentences)
    # Every config failed somewhere: none qualifies, and the sentence says restarts were part of it.
    fixture["aof-always"] = [(0, 0, 0, 9000.0, 4.0, 0.3, True)] * 2
    text = " ".join(recommendation(summary_from(fixture, fault="power-loss")))
    assert "use `" not in text
    assert "without resurrecting or corrupting any or failing to restart" in text
    assert "`aof-always` failed to restart in 2 of 2 trials" in text and "every trial counts" in text


def test_caveats_describe_the_simulated_power_loss() -> None:
    kill9 = " ".join(caveats({}, frame_of(trial_rows(FIXTURE))))
    assert "A power loss, which drops the page cache, is a different fault and is not measured here." in kill9
    assert "FUSE" not in kill9
    text = " ".join(caveats({}, frame_of(kill9_rows() + power_rows("aof-no", "power-loss"))))
    assert "is not measured here" not in text
    assert "reported under its own fault name" in text
    assert "FUSE filesystem that holds every write not yet fsynced in memory and drops it when the power is cut" in text
    assert "Metadata mode `strict`: a file's name" in text
    assert "Writeback `off`: nothing became durable without an fsync" in text
    assert "assumes the disk honours fsync" in text
    only_power = frame_of(with_columns(power_rows("aof-no", "power-loss"), fs_metadata=["lenient"] * 3,
                                       fs_writeback=[5.0] * 3))
    text = " ".join(caveats({}, only_power))
    assert "kill -9 is a process crash" not in text
    assert "Metadata mode `lenient`" in text and "Writeback `5` s" in text


def test_inline_marks_stay_literal_inside_code() -> None:
    assert str(html_inline("**down** `*** FATAL ***` <b>")) == \
        "<strong>down</strong> <code>*** FATAL ***</code> &lt;b&gt;"


# -- a run with both faults, rendered -------------------------------------------------------------------

def test_power_loss_rows_render_with_kill9_rows(tmp_path: Path) -> None:
    rows = kill9_rows(ratios={"none": 0.7}) + power_rows("aof-always", "torn-power-loss") + power_rows(
        "aof-no", "power-loss")
    env = {"run_id": "synthetic", "backend": "process", "cpu_count": 4, "duration_s": 3, "disk_fsync": DISK_FSYNC,
           "workload": {"concurrency": 4, "connections": 2}, "ceiling_requests": 8000}
    run = write_run(tmp_path, rows, environment=env)
    paths = build_report(run)
    html, md = paths["report.html"].read_text(), paths["report.md"].read_text()
    for row in rows:  # one chart per trial, every fault
        chart = run / "charts" / f"{row['trial_id']}.png"
        assert chart.read_bytes().startswith(PNG_SIGNATURE), chart
        assert f'<img src="charts/{row["trial_id"]}.png"' in html
    # summary rows of every (config, fault); kill9 rows have no unsynced bytes, power rows do
    assert "<td>aof-no</td><td>power-loss</td>" in html and "<td>aof-always</td><td>torn-power-loss</td>" in html
    assert "<td>aof-always</td><td>kill9</td>" in html
    assert "| aof-no | power-loss | 3 | 1 of 3 |" in md
    assert "<th>Unsynced bytes at cut</th>" in html and "4,096" in html
    # recommendation: one group per fault, the restart failures called out in each power group
    assert "through a process crash (kill -9), use <code>aof-everysec</code>" in html
    assert ("Under a power loss (fault <code>power-loss</code>), <code>aof-no</code> failed to restart in 1 of 3 "
            "trials") in html
    assert ("Under a power loss with torn writes (fault <code>torn-power-loss</code>), <code>aof-always</code> "
            "failed to restart in 1 of 3 trials") in html
    assert "<strong>the session store was down</strong>" in html
    assert ("the one with the fewest lost sessions was `aof-no`: it lost a median of 0 acknowledged sessions, "
            "0–100 over 3 trials, with no loss in 2 of 3 trials, and failed to restart in 1 of 3 trials.") in md
    # groups in the order kill -9, power loss, torn power loss, whatever order trials.csv had
    assert md.index("(fault `power-loss`)") < md.index("(fault `torn-power-loss`)")
    # driver against server, the disk's limit, method and caveats
    assert "<strong>Driver-limited</strong>" in html and "`none` under `kill9` (0.70: 30,000 against 42,857 ops/s)" in md
    assert "took 1,200 fsyncs/s" in md and "`aof-always` measured 9,000 ops/s (fault `kill9`)" in md
    assert "Power-loss trials wrote through the simulated filesystem" in md
    assert "cut the power on its filesystem" in md and "A ratio above 1 is not an error" in md
    assert "FUSE filesystem" in md and "is not measured here" not in md
    assert f"<td>{BAD_FORMAT}</td>" in html  # the server's own words, in the trials table


def test_truncated_starts_and_dropped_metadata_are_said() -> None:
    """Synthetic rows for the renderer: a start that cut a torn AOF tail, and strict-mode drops."""
    rows = with_columns(power_rows("aof-everysec"), aof_truncated=["appendonly.aof.2.incr.aof at offset 99", "", ""],
                        metadata_dropped=[0, 2, 2],
                        metadata_dropped_detail=["", "create appendonlydir/appendonly.aof.3.incr.aof", ""])
    summary = summary_table(frame_of(rows))
    row = summary.iloc[0]
    assert row["aof_truncated"] == 1 and row["metadata_dropped"] == 2
    text = " ".join(recommendation(summary))
    assert "`aof-everysec` started in 1 of 3 trials only after truncating an incomplete command at the end of its AOF" in text
    assert "dropped a median of 2 namespace changes of `aof-everysec`" in text
    assert "create appendonlydir/appendonly.aof.3.incr.aof" in text
    # without those columns (kill9 rows), nothing is said
    assert "truncating" not in " ".join(recommendation(summary_table(frame_of(kill9_rows()))))


# -- servers, faults the registry does not know, sections ------------------------------------------

def test_summary_and_recommendation_group_by_server() -> None:
    valkey = [dict(row, server="valkey 8.0.1", throughput_ops_s=row["throughput_ops_s"] * 2)
              for row in trial_rows(FIXTURE)]
    summary = summary_table(frame_of(trial_rows(FIXTURE) + valkey))
    assert list(dict.fromkeys(summary["server"])) == ["redis 7.0.15", "valkey 8.0.1"]
    assert len(summary) == 8 and summary[summary["server"] == "valkey 8.0.1"]["throughput_ops_s"].tolist() == [
        60000.0, 42800.0, 18000.0, 50000.0]
    assert display_summary(summary).headers[0] == "Server"
    sentences = recommendation(summary)
    assert any("through a process crash (kill -9) on `redis 7.0.15`, use `aof-everysec`" in s and "21,400 ops/s" in s
               for s in sentences)
    assert any("through a process crash (kill -9) on `valkey 8.0.1`, use `aof-everysec`" in s and "42,800 ops/s" in s
               for s in sentences)
    # One server: no Server column and no server named in the sentences.
    one = summary_from(FIXTURE)
    assert "Server" not in display_summary(one).headers
    assert "redis 7.0.15" not in " ".join(recommendation(one))


def test_a_fault_the_registry_does_not_know_is_named_not_guessed() -> None:
    rows = trial_rows({"aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3)]}, fault="meteor") + trial_rows(
        {"aof-always": [(0, 0, 0, 9000.0, 4.0, 0.3)]})
    summary = summary_table(frame_of(rows))
    assert summary["fault"].tolist() == ["kill9", "meteor"]  # known faults first, gentlest first
    sentences = recommendation(summary)
    assert any("through fault `meteor`, use `aof-always`" in s for s in sentences)
    # Neither cut the power: the scope sentence names both, in their own words.
    assert sentences[-1].startswith("Only a process crash (kill -9) and fault `meteor` were measured here: the "
                                    "operating system and its page cache survived them")


def test_a_scenario_without_a_section_builder_gets_its_trials(tmp_path: Path) -> None:
    rows = trial_rows({"none": FIXTURE["none"]}) + [dict(r, scenario="other-thing", trial_id=f"o-{r['trial_id']}")
                                                    for r in trial_rows({"rdb": FIXTURE["rdb"]})]
    run = write_run(tmp_path, rows)
    md = build_report(run)["report.md"].read_text()
    assert "\n## crash-matrix: acknowledged sessions lost in a crash, per persistence config\n" in md
    assert "\n### Recommendation\n" in md and "\n#### Every trial\n" in md  # one level down
    assert "\n## other-thing: every trial\n" in md and "o-rdb\\_\\_kill9\\_\\_1" in md
    html = (run / "report.html").read_text()
    assert 'id="crash-matrix-summary"' in html and 'id="other-thing-trials"' in html


def test_render_document_writes_any_file_names(tmp_path: Path) -> None:
    from harness.report.render import render_document
    from harness.report.section import Bullets, Document, Figure, Paragraphs, Section, Table

    doc = Document("A title", "r1", "What `x` measured.", [
        Section("Findings", [Paragraphs(["One **bold** claim."]), Bullets(["a", "b"], ordered=True),
                             Table(["Name", "n"], [["a|b", "1"]], [False, True]), Figure("f.png", "alt", "cap")],
                anchor="findings")], [("k", "v")], [])
    paths = render_document(doc, tmp_path, "curve.html", "curve.md")
    md, html = paths["curve.md"].read_text(), paths["curve.html"].read_text()
    assert "## Findings\n\nOne **bold** claim.\n\n1. a\n2. b\n\n| Name | n |\n| --- | ---: |\n| a\\|b | 1 |" in md
    assert "![alt](f.png)\n\ncap" in md
    assert '<h2 id="findings">Findings</h2>' in html and "<strong>bold</strong>" in html
    assert '<td class="num">1</td>' in html


# -- servers compared (synthetic summaries, hand-computed expectations) ----------------------------

def two_server_summary(valkey_throughputs: list[float]) -> pd.DataFrame:
    rows = trial_rows({"aof-everysec": FIXTURE["aof-everysec"]})
    for row, throughput in zip(trial_rows({"aof-everysec": FIXTURE["aof-everysec"]}), valkey_throughputs):
        rows.append({**row, "server": "valkey 8.1.8", "trial_id": "valkey-" + row["trial_id"],
                     "throughput_ops_s": throughput})
    return summary_table(records_frame(records_from_rows(rows)))


def test_servers_differ_only_where_their_ranges_do_not_overlap():
    from harness.report.sections.crash_matrix.servers import server_comparison

    apart = server_comparison(two_server_summary([40000.0, 41000.0, 39000.0]))
    assert apart == ["Under a process crash (kill -9), `aof-everysec` ran faster on `valkey 8.1.8` (40,000 ops/s, "
                     "39,000–41,000 over 3 trials) than on `redis 7.0.15` (21,400 ops/s, 20,800–22,000 over 3 "
                     "trials): the ranges do not overlap."]
    close = server_comparison(two_server_summary([21000.0, 23000.0, 20000.0]))
    assert len(close) == 1 and "no figure (lost sessions, throughput, p99 latency, recovery time) differed" in close[0]
    assert server_comparison(summary_table(records_frame(records_from_rows(trial_rows())))) == []  # one server


def test_skipped_servers_are_said_with_the_reason():
    from harness.report.sections.crash_matrix.servers import skipped_notes

    notes = skipped_notes({"skipped": [{"server": "redis-6.2.14", "config": "aof-dirname",
                                        "reason": "configs/aof-dirname.conf:4: 'appenddirname x': Bad directive"}]})
    assert notes == ["Not run: `aof-dirname` on `redis-6.2.14`: configs/aof-dirname.conf:4: 'appenddirname x': "
                     "Bad directive."]
