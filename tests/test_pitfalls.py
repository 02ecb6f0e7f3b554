"""The restart pitfalls against real servers, both backends: what survived each operator action.

On an RDB-only server under load: editing `appendonly yes` into the file and restarting loads the
(missing) AOF, not the RDB; the safe path (CONFIG SET appendonly yes, wait for the rewrite, edit
the file, restart) keeps everything; a restart on a fresh data directory keeps nothing, while the
old directory still holds the saved dataset. Every stop is SIGTERM: the server saved first.
"""

from __future__ import annotations

import scenarios.pitfalls as pitfalls
from harness.spec import ServerChoice
from harness.workload.session import WorkloadParams

from conftest import CONFIGS, assert_nothing_left
from scenario_runs import run_small

SMALL = WorkloadParams(rate_ops_s=4000.0, users=4000, baseline_sessions=500, concurrency=16, connections=4)


def test_appendonly_edited_in_loses_the_rdb_dataset_and_the_safe_path_keeps_it(backend_kind, tmp_path, request):
    options = pitfalls.PitfallOptions(configs_dir=CONFIGS, server=ServerChoice(backend_kind), workload=SMALL,
                                      keep_data=True, seed=9)
    run_dir, trials = run_small(tmp_path, pitfalls.plan(options))
    rows = trials.set_index("fault")
    assert list(rows.index) == ["appendonly-safe", "appendonly-edit", "lost-volume"]
    for fault, row in rows.iterrows():
        assert not row["restart_failed"] and row["keys_before_stop"] > 500, fault
        assert row["corrupt_values"] == 0 and row["contradictions"] == 0, fault

    safe = rows.loc["appendonly-safe"]
    assert safe["loaded_from"] == "aof" and safe["lost_sessions"] == 0 and safe["dataset_keys"] > 500
    assert safe["config_edit"] == "appendonly no -> appendonly yes" and safe["aof_rewrite_s"] > 0

    edited = rows.loc["appendonly-edit"]
    assert edited["config_edit"] == "appendonly no -> appendonly yes"
    assert edited["loaded_from"] == "nothing" and edited["dataset_keys"] == 0
    assert edited["lost_sessions"] >= edited["keys_before_stop"] - 100  # every session (a few logged out)
    assert (run_dir / "data" / edited["trial_id"] / "dump.rdb").stat().st_size > 0  # the dataset was on disk

    moved = rows.loc["lost-volume"]
    assert moved["loaded_from"] == "nothing" and moved["dataset_keys"] == 0 and moved["lost_sessions"] > 500
    assert (run_dir / "data" / moved["trial_id"] / "volume-detached" / "dump.rdb").stat().st_size > 0
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path, docker)
