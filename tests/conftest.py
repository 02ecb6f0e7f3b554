"""Shared fixtures: a Docker engine (or a skip, or a failure in CI), leftovers checks, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tests never ask a registry: the images they run are built offline from local binaries, and no
# test may send a lookup off this machine (CLI runs inherit this).
os.environ.setdefault("CRASH_MATRIX_PULL", "never")
CONFIGS = ROOT / "configs"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_engine():
    """The Docker client; skips without an engine, unless CRASH_MATRIX_REQUIRE_DOCKER=1 (CI)."""
    from harness.errors import HarnessError
    from harness.server.docker_backend import connect

    try:
        client = connect(timeout_s=5)
    except HarnessError as exc:
        if os.environ.get("CRASH_MATRIX_REQUIRE_DOCKER") == "1":
            pytest.fail(f"CRASH_MATRIX_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(str(exc))
    yield client
    client.close()


@pytest.fixture
def fuse():
    """FUSE for the power-loss filesystem; skips without it, unless CRASH_MATRIX_REQUIRE_FUSE=1 (CI)."""
    from harness.powerfs import fuse_available

    problem = fuse_available()
    if problem and os.environ.get("CRASH_MATRIX_REQUIRE_FUSE") == "1":
        pytest.fail(f"CRASH_MATRIX_REQUIRE_FUSE=1 but {problem}")
    if problem:
        pytest.skip(f"no FUSE here: {problem}")


@pytest.fixture(params=["process", "docker"])
def backend_kind(request):
    """Both backends; the docker one only where an engine answers (always in CI)."""
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    return request.param


def containers_of(client, owner: Path | None = None) -> list:
    """crash-matrix containers: all of them, or those of runs writing under `owner` (a results
    folder), so tests running side by side do not see each other's."""
    from harness.server.docker_backend import OWNER_LABEL, RUN_LABEL

    label = f"{OWNER_LABEL}={Path(owner).resolve()}" if owner is not None else RUN_LABEL
    return client.containers.list(all=True, filters={"label": label})


def server_processes(marker: str) -> list[str]:
    """Running redis-server / valkey-server processes whose working directory mentions `marker`.

    The working directory, not the command line: Redis rewrites its command line to
    "redis-server 127.0.0.1:<port>"; the process backend starts it in its data directory.
    """
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if exe.startswith(("redis-", "valkey-")) and marker in cwd:
            found.append(f"{pid} {exe} in {cwd}")
    return found


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m harness ARGS`. A `run` that names no --scenarios runs the crash matrix alone (the
    command's default is every scenario of the default run; the tests of one scenario name it)."""
    if args and args[0] == "run" and "--scenarios" not in args and "--resume" not in args:
        args = (*args, "--scenarios", "crash-matrix")
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_nothing_left(results_root: Path, docker_client=None) -> None:
    """No server process that ran on this results folder or a config check, no crash-matrix container."""
    assert server_processes(str(results_root)) == []
    assert server_processes("crash-matrix-check") == []
    if docker_client is not None:
        assert containers_of(docker_client, results_root) == []
