"""Bad input: one clear line naming what and where, a non-zero exit, nothing started or left."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness import configs as config_files
from harness.errors import HarnessError

from conftest import CONFIGS, assert_nothing_left, run_cli

FAST = ["--scenarios", "crash-matrix", "--faults", "kill9", "--trials", "1", "--duration", "1", "--baseline", "100", "--plain"]


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("crash-matrix: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_unknown_config_name(tmp_path):
    proc = run_cli("run", "--configs", "aof-sometimes", "--results", str(tmp_path / "r"), *FAST)
    assert proc.returncode != 0
    line = error_line(proc.stderr)
    assert "unknown config 'aof-sometimes'" in line and "aof-everysec" in line
    assert not (tmp_path / "r").exists()  # nothing started, nothing written


def write_configs(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.conf").write_text(text)
    return folder


@pytest.mark.parametrize("text, line, complaint", [
    ("# bad value\nsave \"\"\nappendonly yes\nappendfsync sometimes\n", 4, "must be one of"),
    ("# bad directive\nappendonlyy yes\n", 2, "Bad directive"),
])
def test_bad_config_line_is_refused_by_the_server_before_any_trial(backend_kind, tmp_path, text, line, complaint,
                                                                    request):
    folder = write_configs(tmp_path, good=(CONFIGS / "aof-always.conf").read_text(), bad=text)
    results = tmp_path / "r"
    proc = run_cli("run", "--configs-dir", str(folder), "--backend", backend_kind, "--results", str(results), *FAST)
    assert proc.returncode != 0
    message = error_line(proc.stderr)
    assert f"{folder.resolve() / 'bad.conf'}:{line}:" in message
    assert complaint in message
    assert "[trial" not in proc.stderr  # checked before any trial starts: `good` never ran
    assert not any(results.glob("*/trials.csv"))
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(results, docker)


def test_settings_the_harness_owns_are_refused_with_file_and_line(tmp_path):
    folder = write_configs(tmp_path, mine="# mine\nappendonly yes\nport 6380\n")
    with pytest.raises(HarnessError, match=r"mine.conf:3: 'port 6380': do not set port"):
        config_files.read_check(config_files.discover(folder)["mine"])


def test_a_new_config_file_is_picked_up_without_code_changes(tmp_path):
    folder = write_configs(tmp_path, **{"aof-everysec-norewrite": "# no auto rewrite\nappendonly yes\n"
                                                                  "auto-aof-rewrite-percentage 0\n"})
    found = config_files.discover(folder)
    assert list(found) == ["aof-everysec-norewrite"]
    assert found["aof-everysec-norewrite"].description == "no auto rewrite"


def test_image_that_cannot_be_had(docker_engine, tmp_path):
    proc = run_cli("run", "--configs", "none", "--backend", "docker", "--image", "crash-matrix.invalid/nothing:1",
                   "--results", str(tmp_path / "r"), *FAST)
    assert proc.returncode != 0
    assert "image crash-matrix.invalid/nothing:1 is not present and cannot be pulled" in error_line(proc.stderr)


def test_busy_port(backend_kind, tmp_path, request):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        proc = run_cli("run", "--configs", "none", "--backend", backend_kind, "--port", str(port),
                       "--results", str(tmp_path / "r"), *FAST)
    assert proc.returncode != 0
    assert f"port {port} on 127.0.0.1 is busy" in error_line(proc.stderr)
    docker = request.getfixturevalue("docker_engine") if backend_kind == "docker" else None
    assert_nothing_left(tmp_path / "r", docker)


def test_server_that_cannot_bind_says_the_port_is_busy(tmp_path):
    """The race the pre-check cannot close: the server itself fails to bind."""
    from harness.errors import ServerExited
    from harness.server import ServerSpec
    from harness.server.process import ProcessBackend

    backend = ProcessBackend()
    backend.prepare(lambda message: None)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        spec = ServerSpec("busy", CONFIGS / "none.conf", tmp_path, tmp_path / "log", port)
        with pytest.raises(ServerExited, match=f"port {port} on 127.0.0.1 is busy"):
            with backend.server(spec) as server:
                server.start()


def test_docker_engine_down(tmp_path):
    proc = run_cli("run", "--configs", "none", "--backend", "docker", "--results", str(tmp_path / "r"), *FAST,
                   env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert proc.returncode != 0
    assert f"Docker engine not reachable at unix://{tmp_path}/no-engine.sock" in error_line(proc.stderr)


def test_auto_backend_falls_back_to_processes_and_says_so(tmp_path):
    proc = run_cli("run", "--configs", "none", "--backend", "auto", "--results", str(tmp_path / "r"), *FAST,
                   env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert proc.returncode == 0, proc.stderr
    assert "falling back to the process backend" in proc.stderr
    assert "process backend: running" in proc.stderr
    assert_nothing_left(tmp_path / "r")


def test_unwritable_results_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = run_cli("run", "--configs", "none", "--results", str(blocker / "results"), *FAST)
    assert proc.returncode != 0
    assert f"cannot write results under {blocker / 'results'}" in error_line(proc.stderr)
