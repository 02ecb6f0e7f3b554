"""Eviction against real servers, both backends: what each policy does to sessions beside other data.

Every expectation is what the server must do by its documented policy: `noeviction` refuses writes
and evicts nothing; `volatile-lru` beside other data without TTLs has only the sessions to evict;
`volatile-ttl` beside other data whose every key expires long before any session evicts the
nearest expiries it samples, so (with a pool of 16 candidates refilled from 5 samples per
eviction) a session is only chosen if a whole pool held no other key: never here. And with a
crash: evictions reach the AOF as deletes, so an evicted session does not come back, and the
AOF names the evictions whose notification the kill cut off. Run under `appendfsync always`, whose
write precedes every reply by design (everysec may postpone a write behind a slow background
fsync while replies go out: on a loaded disk a kill -9 could then lose acknowledged writes).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

import scenarios.eviction as eviction
from harness.checkers.eviction import SESSION, key_class
from harness.runner.recheck import recheck
from harness.spec import ServerChoice, Timeline
from harness.workload.other_load import OtherData
from harness.workload.session import WorkloadParams

from conftest import assert_nothing_left
from scenario_runs import run_small

SMALL = WorkloadParams(rate_ops_s=4000.0, users=4000, baseline_sessions=500, concurrency=16, connections=4)
SHORT = Timeline(duration_s=1.5, after_s=0.2, ceiling_requests=0)
OPTIONS = eviction.EvictionOptions(maxmemory="8mb", other=OtherData(ttl_s=10), trials=1, timeline=SHORT,
                                   workload=SMALL, seed=5)
CELLS = {("noeviction", "no-ttl"), ("volatile-lru", "no-ttl"), ("volatile-ttl", "ttl")}


def _cell(spec) -> tuple[str, str]:
    return spec.config.name, "ttl" if spec.scenario_options["other_ttl_s"] else "no-ttl"


def _evicted(run_dir, trial_id) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "evidence" / trial_id / "evicted.parquet")


def test_each_policy_evicts_what_it_may_and_refuses_what_it_must(backend_kind, tmp_path, request):
    options = replace(OPTIONS, server=ServerChoice(backend_kind),
                      policy_names=sorted({policy for policy, _ in CELLS}))
    run_dir, trials = run_small(tmp_path, eviction.plan(options), keep=lambda s: _cell(s) in CELLS)
    rows = {(r["maxmemory_policy"], r["other_data"]): r for _, r in trials.iterrows()}
    assert set(rows) == CELLS
    for row in rows.values():
        assert row["evictions_notified"] == row["evictions_counted"] and row["evictions_unseen"] == 0
        assert row["lost_sessions"] == 0 and row["contradictions"] == 0 and row["reads_gone_unexplained"] == 0
        assert row["maxmemory_bytes"] == 8 * 1024**2 and row["used_memory_peak_bytes"] > 7 * 1024**2

    refusing = rows[("noeviction", "no-ttl")]  # nothing may go: writes are refused
    assert refusing["sessions_evicted"] == refusing["other_evicted"] == refusing["evictions_counted"] == 0
    assert refusing["logins_refused_oom"] > 0 and refusing["other_refused_oom"] > 0

    only_sessions = rows[("volatile-lru", "no-ttl")]  # the sessions are the only keys with a TTL
    assert only_sessions["sessions_evicted"] > 0 and only_sessions["other_evicted"] == 0
    names = _evicted(run_dir, only_sessions["trial_id"])["key"].astype(str)
    assert len(names) == only_sessions["evictions_counted"] and all(key_class(n)[0] == SESSION for n in names)
    survivors = pd.read_parquet(run_dir / "survivors" / f"{only_sessions['trial_id']}.parquet")
    evicted_ids = {key_class(n)[1] for n in names}
    gone = survivors[survivors["key"].isin(evicted_ids)]
    assert len(gone) == len(evicted_ids) and not gone["present"].any() and set(gone["status"]) == {"evicted"}
    assert only_sessions["reads_session_gone"] > 0  # users found out on their next request

    protected = rows[("volatile-ttl", "ttl")]  # the other data always expires sooner than any session
    assert protected["sessions_evicted"] == 0 and protected["other_evicted"] > 0
    assert protected["logins_refused_oom"] == 0 and protected["reads_session_gone"] == 0
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path, docker)

    before = trials.set_index("trial_id")
    recheck(run_dir, lambda message: None)  # python -m harness check: the same verdicts from the stored evidence
    after = pd.read_csv(run_dir / "trials.csv").set_index("trial_id")
    for column in ("sessions_evicted", "other_evicted", "reads_session_gone", "logins_refused_oom",
                   "evictions_unseen", "lost_sessions", "contradictions"):
        assert (after[column] == before[column]).all(), column


def test_with_a_crash_evictions_are_in_the_aof_and_stay_gone(backend_kind, tmp_path, request):
    options = replace(OPTIONS, server=ServerChoice(backend_kind), policy_names=["allkeys-lru"],
                      other_variants=["no-ttl"], fault_name="kill9", persistence="aof-always",
                      timeline=replace(SHORT, duration_s=2.0, fault_window=(0.8, 0.9)))
    _, trials = run_small(tmp_path, eviction.plan(options))
    row = trials.iloc[0]
    assert row["config"] == "allkeys-lru+aof-always" and row["fault"] == "kill9"
    assert not row["restart_failed"] and row["loaded_from"] == "aof"
    assert row["sessions_evicted"] > 0
    assert row["evicted_returned"] == 0  # the DELs were in the AOF
    # Evictions in the server's last moments reach the AOF, their notices die with it: the AOF says so.
    assert row["evictions_from_aof"] >= 0 and row["sessions_evicted"] >= row["evictions_from_aof"]
    assert row["lost_sessions"] == 0 and row["contradictions"] == 0  # kill -9 loses nothing under always
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path, docker)


@pytest.mark.parametrize("text, line", [("# too small\nmaxmemory-policy allkeys-lru\nmaxmemory 200kb\n", 3)])
def test_a_fragment_whose_maxmemory_leaves_no_room_is_refused_with_its_line(tmp_path, text, line):
    from harness.errors import HarnessError

    folder = tmp_path / "eviction"
    folder.mkdir()
    (folder / "tiny.conf").write_text(text)
    options = replace(OPTIONS, configs_dir=folder, server=ServerChoice("process"), other_variants=["no-ttl"])
    with pytest.raises(HarnessError, match=rf"tiny.conf:{line}: 'maxmemory 200kb': maxmemory 0.20 MB is too small"):
        run_small(tmp_path, eviction.plan(options))
    assert_nothing_left(tmp_path)
