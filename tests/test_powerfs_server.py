"""A real server on powerfs (process backend): the filesystem really tells fsync apart.

kill -9 keeps whatever Redis wrote; a power cut keeps only what it fsynced. So after
SIGKILL + cut + remount + restart, `appendfsync always` still has every acknowledged key and
`appendfsync no` (writeback off) has none; a torn cut of an unsynced AOF tail gives either a
clean, shorter AOF (loaded, "Truncating the AOF") or one Redis refuses ("Bad file format").
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from harness.errors import ServerExited
from harness.powerfs import PowerFS
from harness.server.base import ServerSpec, free_port
from harness.server.docker_backend import DockerBackend
from harness.server.process import ProcessBackend
from test_powerfs_mount import nothing_left_behind  # noqa: F401 - autouse: no mount, no daemon left

pytestmark = [pytest.mark.server,
              pytest.mark.usefixtures("fuse")]

ROOT = Path(__file__).resolve().parent.parent
KEYS = 400


@pytest.fixture(scope="module")
def backend():
    backend = ProcessBackend()
    backend.prepare(lambda _msg: None)
    yield backend
    backend.cleanup()


@pytest.fixture
def any_backend(backend_kind, backend):
    """The process backend, or Docker: the mountpoint bind-mounted into the container at /data
    (allow_other), the same container started again after the remount."""
    if backend_kind == "process":
        yield backend
        return
    docker_backend = DockerBackend("redis:7.4", f"powerfs-{uuid.uuid4().hex[:8]}")
    docker_backend.prepare(lambda _msg: None)
    try:
        yield docker_backend
    finally:
        docker_backend.cleanup()


def server_on(backend, fs: PowerFS, config: str, log: Path):
    spec = ServerSpec(name=f"powerfs-{config}", config_path=ROOT / "configs" / f"{config}.conf",
                      data_dir=fs.mountpoint, log_path=log, port=free_port())
    return backend.server(spec)


def set_keys(server, count: int = KEYS) -> list[str]:
    """SET count keys one request at a time; returns the acknowledged ones."""
    client = server.client()
    acked = []
    try:
        for i in range(count):
            if client.set(f"session:{i}", f"value-{i}-" + "x" * 300):
                acked.append(f"session:{i}")
    finally:
        client.close()
    return acked


def present(server, keys: list[str]) -> list[str]:
    client = server.client()
    try:
        values = client.mget(keys)
    finally:
        client.close()
    return [key for key, value in zip(keys, values) if value is not None]


@pytest.mark.parametrize("metadata", ["lenient", "strict"])
def test_aof_always_keeps_every_acknowledged_key_through_a_power_cut(tmp_path, any_backend, metadata):
    backing = tmp_path / "backing"
    backing.mkdir()
    with PowerFS(backing, tmp_path / "mnt", metadata=metadata, writeback_s=None) as fs:
        fs.mount()
        server = server_on(any_backend, fs, "aof-always", tmp_path / "server.log")
        try:
            server.start()
            acked = set_keys(server)
            assert len(acked) == KEYS
            server.kill()
            result = fs.cut()
            assert result["fsyncs"] >= KEYS  # one fdatasync per acknowledged write (group commit of one)
            assert result["unsynced_bytes_at_cut"] == 0
            assert result["pending_metadata_ops_dropped"] == 0  # Redis fsyncs its directories
            fs.remount()
            server.restart()
            assert present(server, acked) == acked
        finally:
            server.remove()


def test_aof_no_loses_acknowledged_keys_in_a_power_cut(tmp_path, any_backend):
    backing = tmp_path / "backing"
    backing.mkdir()
    with PowerFS(backing, tmp_path / "mnt", metadata="lenient", writeback_s=None) as fs:
        fs.mount()
        server = server_on(any_backend, fs, "aof-no", tmp_path / "server.log")
        try:
            server.start()
            acked = set_keys(server)
            assert len(acked) == KEYS
            assert present(server, acked) == acked  # before the cut every key is there
            server.kill()
            result = fs.cut()
            assert result["unsynced_bytes_at_cut"] > KEYS * 300  # the whole AOF tail was in memory only
            fs.remount()
            server.restart()
            assert present(server, acked) == []  # acknowledged, yet gone: nothing was fsynced
            assert "Ready to accept connections" in server.log_text()
        finally:
            server.remove()


def test_cut_under_load_keeps_every_acknowledged_write_with_aof_always(tmp_path, backend):
    """The power goes while clients are writing: the server gets I/O errors from then on (and
    `always` makes Redis exit), every write acknowledged before stays."""
    import threading

    backing = tmp_path / "backing"
    backing.mkdir()
    with PowerFS(backing, tmp_path / "mnt", metadata="strict", writeback_s=None) as fs:
        fs.mount()
        server = server_on(backend, fs, "aof-always", tmp_path / "server.log")
        try:
            server.start()
            acked: list[str] = []
            client = server.client()

            def load():
                for i in range(200_000):
                    try:
                        client.set(f"session:{i}", "x" * 200)
                    except Exception:
                        return
                    acked.append(f"session:{i}")

            writer = threading.Thread(target=load)
            writer.start()
            time.sleep(0.4)
            fs.cut()
            writer.join(timeout=30)
            assert not writer.is_alive()
            assert len(acked) > 10
            server.kill()
            fs.remount()
            server.restart()
            assert present(server, acked) == acked
        finally:
            server.remove()


def test_torn_aof_tail_is_either_truncated_cleanly_or_refused(tmp_path, backend):
    """Seeded torn cuts of an unsynced AOF tail: some seeds leave a clean prefix of the log
    (the server loads exactly the first n keys), others holes that Redis refuses."""
    outcomes = set()
    for seed in range(10):
        backing = tmp_path / f"backing{seed}"
        backing.mkdir()
        log = tmp_path / f"server{seed}.log"
        with PowerFS(backing, tmp_path / "mnt", metadata="lenient", writeback_s=None) as fs:
            fs.mount()
            server = server_on(backend, fs, "aof-no", log)
            try:
                server.start()
                client = server.client()
                pipe = client.pipeline(transaction=False)
                keys = [f"session:{i}" for i in range(1500)]
                for key in keys:
                    pipe.set(key, "v" * 300)
                pipe.execute()
                client.close()
                server.kill()
                result = fs.cut(torn=True, seed=seed)
                assert result["torn"] and result["torn_files"], result
                fs.remount()
                try:
                    server.restart()
                except ServerExited as exc:
                    assert "Bad file format" in str(exc) or "Bad file format" in server.log_text()
                    outcomes.add("refused")
                else:
                    survivors = present(server, keys)
                    assert survivors == keys[: len(survivors)], "a torn tail loaded keys out of order"
                    if 0 < len(survivors) < len(keys):
                        assert "Truncat" in server.log_text() or "truncat" in server.log_text()
                        outcomes.add("truncated")
            finally:
                server.remove()
        shutil.rmtree(backing)
        if outcomes == {"refused", "truncated"}:
            break
    assert outcomes == {"refused", "truncated"}, outcomes
