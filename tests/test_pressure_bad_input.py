"""Bad input to the eviction, expiry and pitfalls scenarios: one clear line naming what and where,
a non-zero exit, nothing left running."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import assert_nothing_left, run_cli

FAST = ["--trials", "1", "--duration", "1", "--baseline", "100", "--plain"]


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("crash-matrix: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def policy_folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "eviction"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.conf").write_text(text)
    return folder


def test_a_policy_name_the_server_rejects_is_named_with_file_and_line(backend_kind, tmp_path, request):
    folder = policy_folder(tmp_path, typo="# a typo\nmaxmemory-policy allkeys-lrux\nsave \"\"\n")
    results = tmp_path / "r"
    proc = run_cli("run", "--scenarios", "eviction", "--eviction-configs-dir", str(folder), "--backend", backend_kind,
                   "--results", str(results), *FAST)
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert f"{folder.resolve() / 'typo.conf'}:2: 'maxmemory-policy allkeys-lrux'" in line
    assert "the server refused it" in line and "[trial" not in proc.stderr
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(results, docker)


def test_a_maxmemory_too_small_for_a_trial_names_the_option_or_the_line(backend_kind, tmp_path, request):
    results = tmp_path / "r"
    proc = run_cli("run", "--scenarios", "eviction", "--policies", "noeviction", "--maxmemory", "100kb",
                   "--backend", backend_kind, "--results", str(results), *FAST)
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert "--maxmemory 100kb (appended to" in line and "noeviction.conf)" in line
    assert "is too small for a trial: the empty server already uses" in line and "[trial" not in proc.stderr

    folder = policy_folder(tmp_path, mine="# mine\nmaxmemory-policy allkeys-lru\nmaxmemory 1\n")
    proc = run_cli("run", "--scenarios", "eviction", "--eviction-configs-dir", str(folder), "--backend", backend_kind,
                   "--results", str(results), *FAST)
    assert proc.returncode == 2
    assert f"{folder.resolve() / 'mine.conf'}:3: 'maxmemory 1': maxmemory 0.00 MB is too small" in \
        error_line(proc.stderr)
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(results, docker)


@pytest.mark.parametrize("args, message", [
    (["--scenarios", "eviction", "--maxmemory", "16zb"], "--maxmemory '16zb': not a memory size"),
    (["--scenarios", "eviction", "--other-data", "some-ttl"], "--other-data some-ttl: choose among no-ttl, ttl"),
    (["--scenarios", "eviction", "--policies", "allkeys-lru2"], "unknown config 'allkeys-lru2'"),
    (["--scenarios", "expiry", "--downtime", "5"], "--downtime 5 s is not shorter than the TTL (3 s"),
    (["--scenarios", "crash-matrix,evictions"], "--scenarios: unknown scenario 'evictions'"),
    (["--scenarios", "pitfalls", "--pitfalls", "appendonly-edits"], "unknown fault 'appendonly-edits'"),
])
def test_bad_scenario_options_are_refused_before_anything_starts(tmp_path, args, message):
    proc = run_cli("run", *args, "--results", str(tmp_path / "r"), *FAST)
    assert proc.returncode == 2
    assert message in error_line(proc.stderr)
    assert not (tmp_path / "r").exists()
