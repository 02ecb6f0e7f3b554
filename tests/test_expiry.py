"""Expiry across a downtime against real servers, both backends: a TTL is an absolute time.

A session whose expiry passed while the server was down must be absent after the restart on
every config that kept it (no zombie), judged two ways: by the expiry checker, and here directly
from the history (the latest expiry any acknowledged write can have set, against the readback).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

import scenarios.expiry as expiry
from harness.spec import ServerChoice
from harness.workload.session import WorkloadParams

from conftest import CONFIGS, assert_nothing_left
from scenario_runs import run_small

SMALL = WorkloadParams(rate_ops_s=4000.0, users=4000, baseline_sessions=500, concurrency=16, connections=4, ttl_s=3)
KEEPING = ["aof-everysec", "rdb+aof-everysec", "rdb"]  # configs that keep sessions across a kill -9


def latest_possible_expiry_ms(history: pd.DataFrame) -> pd.Series:
    """Per session: the latest expiry any write could have set (end + TTL of its last login or refresh
    that was acknowledged or may have happened)."""
    setters = history[history["phase"].isin(["baseline", "load"]) & history["kind"].isin(["login", "refresh"])
                      & (history["outcome"] != "fail")]
    return ((setters["end_ns"] / 1e6) + setters["ttl_ms"]).groupby(setters["key"]).max()


def test_sessions_that_expired_while_the_server_was_down_stay_gone(backend_kind, tmp_path, request):
    options = expiry.ExpiryOptions(configs_dir=CONFIGS, config_names=KEEPING, server=ServerChoice(backend_kind),
                                   workload=SMALL, timeline=replace(expiry.TIMELINE, duration_s=1.5), seed=3,
                                   downtime_s=1.5)
    run_dir, trials = run_small(tmp_path, expiry.plan(options))
    assert list(trials["config"]) == KEEPING
    for _, row in trials.iterrows():
        assert not row["restart_failed"], row["restart_error"]
        assert row["stayed_down_s"] >= 1.5
        assert row["expired_in_downtime"] > 0 and row["zombie_sessions"] == 0 and row["ttl_longer"] == 0
        assert row["expired_in_downtime_gone"] == row["expired_in_downtime"]
        history = pd.read_parquet(run_dir / "histories" / f"{row['trial_id']}.parquet")
        survivors = pd.read_parquet(run_dir / "survivors" / f"{row['trial_id']}.parquet").set_index("key")
        latest = latest_possible_expiry_ms(history)
        # Redis keeps a key through the millisecond of its expiry (keyIsExpired: now > when, whole ms)
        expired = latest[latest < np.floor(survivors["read_at_ms"].reindex(latest.index))].index
        assert len(expired) > 0
        assert not survivors.loc[expired, "present"].any(), "a session came back after its absolute expiry"
    aof = trials.set_index("config").loc["aof-everysec"]
    assert aof["alive_at_read"] > 0 and aof["alive_at_read_present"] == aof["alive_at_read"]  # kept, not early
    assert aof["expired_early"] == 0 and aof["lost_sessions"] == 0
    rdb = trials.set_index("config").loc["rdb"]
    # The snapshot held the 500 baseline sessions: the server loaded those still alive and skipped the rest.
    assert rdb["loaded_from"] == "rdb" and rdb["keys_loaded"] + rdb["expired_on_load"] == 500
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path, docker)
