"""powerfs through a real FUSE mount: real syscalls, a real daemon process, real cuts.

The stateful machine of test_powerfs_state.py runs here with every operation a syscall on the
mount (os.open, os.pwrite, os.fsync on a directory fd, os.rename, ...), and every power cut a
`PowerFS.cut()` followed by a remount: a fresh daemon on the same backing directory.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from harness.powerfs import PowerFS, is_mounted
from test_powerfs_state import PowerFSMachine, read_tree

pytestmark = pytest.mark.usefixtures("fuse")


def powerfs_mounts() -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "powerfs" in line.split()[2]]


def powerfs_daemons() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "harness.powerfs mount" in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def wait_until(check, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """After every test: no powerfs mount and no daemon process that were not there before."""
    mounts_before, daemons_before = set(powerfs_mounts()), set(powerfs_daemons())
    yield
    assert wait_until(lambda: set(powerfs_daemons()) <= daemons_before, 10.0), powerfs_daemons()
    assert set(powerfs_mounts()) <= mounts_before, powerfs_mounts()


def close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass  # ENOTCONN: the filesystem is gone


@pytest.fixture
def dirs(tmp_path):
    backing, mnt = tmp_path / "backing", tmp_path / "mnt"
    backing.mkdir()
    mnt.mkdir()
    return backing, mnt


# ------------------------------------------------------------------------------- the machine
class MountDriver:
    """The machine's operations as syscalls on a mounted PowerFS."""

    def __init__(self, backing: Path, metadata: str, kernel_cache: bool) -> None:
        # Disk faults reach a program's write() only without the kernel's writeback cache (with
        # it, write() lands in the page cache and the daemon sees the kernel's flush later).
        self.supports_faults = not kernel_cache
        self.mnt = backing.parent / "mnt"
        self.mnt.mkdir(exist_ok=True)
        self.fs = PowerFS(backing, self.mnt, metadata=metadata, writeback_s=None, kernel_cache=kernel_cache,
                          real_sync=False)
        self.fs.mount()

    def p(self, path: str) -> str:
        return os.path.join(self.mnt, path)

    def create(self, path):
        os.close(os.open(self.p(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))

    def mkdir(self, path):
        os.mkdir(self.p(path), 0o755)

    def unlink(self, path):
        os.unlink(self.p(path))

    def rmdir(self, path):
        os.rmdir(self.p(path))

    def rename(self, src, dst):
        os.rename(self.p(src), self.p(dst))

    def write(self, path, offset, data) -> int:
        fd = os.open(self.p(path), os.O_WRONLY)
        try:
            return os.pwrite(fd, data, offset)
        finally:
            os.close(fd)

    def set_faults(self, **settings):
        self.fs.set_faults(**settings)

    def clear_faults(self):
        self.fs.clear_faults()

    def truncate(self, path, size):
        os.truncate(self.p(path), size)

    def fsync(self, path):
        fd = os.open(self.p(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def fsyncdir(self, path):
        fd = os.open(self.p(path) if path else str(self.mnt), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, path) -> bytes:
        with open(self.p(path), "rb") as f:
            return f.read()

    def size(self, path) -> int:
        return os.stat(self.p(path)).st_size

    def listing(self) -> list[str]:
        return sorted(read_tree(self.mnt))

    def tick(self, now):
        raise AssertionError("no writeback in the mount machine")

    def cut(self, torn, seed) -> dict:
        result = self.fs.cut(torn=torn, seed=seed)
        assert not is_mounted(self.mnt), "the mount must be gone after a cut"
        self.fs.mount()
        return result

    def clean_remount(self):
        self.fs.remount()

    def store_files(self):
        return None  # FUSE releases arrive after close() returns: the count is checked on the core

    def close(self):
        self.fs.close()


class MountMachine(PowerFSMachine):
    kernel_cache = True

    def make_driver(self):
        return MountDriver(self.backing, self.metadata, self.kernel_cache)


class StrictMount(MountMachine):
    metadata = "strict"
    kernel_cache = True


class LenientMountNoKernelCache(MountMachine):
    metadata = "lenient"
    kernel_cache = False


MOUNT_SETTINGS = settings(max_examples=25, stateful_step_count=30, deadline=None,
                          suppress_health_check=list(HealthCheck))

TestStrictMount = StrictMount.TestCase
TestStrictMount.settings = MOUNT_SETTINGS
TestLenientMountNoKernelCache = LenientMountNoKernelCache.TestCase
TestLenientMountNoKernelCache.settings = MOUNT_SETTINGS


# ----------------------------------------------------------------------- Redis-like sequences
def replace_file(mnt: Path, name: str, data: bytes, fsync_dir: bool) -> None:
    """What Redis does for its manifest and RDB: temp file, fsync, rename over, fsync the dir."""
    tmp = mnt / f"temp-{name}"
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, mnt / name)
    if fsync_dir:
        dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)


@pytest.mark.parametrize("metadata,fsync_dir,survives", [
    ("strict", True, True),
    ("strict", False, False),
    ("lenient", False, True),
    ("lenient", True, True),
])
def test_redis_replace_pattern(dirs, metadata, fsync_dir, survives):
    backing, mnt = dirs
    (backing / "manifest").write_bytes(b"version 1\n")
    with PowerFS(backing, mnt, metadata=metadata, writeback_s=None) as fs:
        fs.mount()
        assert (mnt / "manifest").read_bytes() == b"version 1\n"
        replace_file(mnt, "manifest", b"version 2\n", fsync_dir)
        assert (mnt / "manifest").read_bytes() == b"version 2\n"  # reads see the latest state
        result = fs.cut()
        assert not fs.mounted
        assert sorted(os.listdir(backing)) == ["manifest"]
        assert (backing / "manifest").read_bytes() == (b"version 2\n" if survives else b"version 1\n")
        assert result["fsyncs"] >= 1
        assert result["dir_fsyncs"] == (1 if fsync_dir else 0)
        assert result["pending_metadata_ops_dropped"] == (2 if metadata == "strict" and not fsync_dir else 0)
        fs.remount()
        assert (mnt / "manifest").read_bytes() == (b"version 2\n" if survives else b"version 1\n")
        assert os.listdir(mnt) == ["manifest"]


def test_unsynced_append_is_lost_and_fsynced_append_kept(dirs):
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="lenient", writeback_s=None) as fs:
        fs.mount()
        fd = os.open(mnt / "appendonly.aof", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
        os.write(fd, b"*synced*" * 100)
        os.fdatasync(fd)
        for _ in range(50):
            os.write(fd, b"+unsynced")
        stats = fs.stats()
        assert stats["fsyncs"] == 1
        assert stats["unsynced_bytes"] == 450
        assert stats["writes"] >= 1 and stats["bytes_written"] >= 1250
        result = fs.cut()
        close_quietly(fd)  # the power is off: the file is gone from under the process
        assert result["unsynced_bytes_at_cut"] == 450
        assert (backing / "appendonly.aof").read_bytes() == b"*synced*" * 100


def test_torn_cut_through_the_mount(dirs):
    """A torn cut keeps page-aligned parts of the unsynced tail, the same for the same seed."""
    backing, mnt = dirs
    results = []
    for _attempt in range(2):
        for name in os.listdir(backing):
            os.unlink(backing / name)
        with PowerFS(backing, mnt, metadata="lenient", writeback_s=None) as fs:
            fs.mount()
            with open(mnt / "log", "wb") as f:
                f.write(b"base\n")
                f.flush()
                os.fsync(f.fileno())
                for i in range(40):
                    f.write((f"entry {i:04d}\n" * 100).encode())
            result = fs.cut(torn=True, seed=11)
        results.append(((backing / "log").read_bytes(), result["torn_bytes_kept"]))
    assert results[0] == results[1]
    got, kept = results[0]
    assert got.startswith(b"base\n")
    assert kept == result["torn_bytes_kept"] and 0 <= kept <= result["unsynced_bytes_at_cut"]


def test_writeback_makes_old_dirty_data_durable(dirs):
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="strict", writeback_s=0.3) as fs:
        fs.mount()
        fd = os.open(mnt / "f", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"never fsynced")  # stays open: only the kernel cache and writeback move it
        assert not (backing / "f").exists()
        assert wait_until(lambda: (backing / "f").exists() and (backing / "f").read_bytes() == b"never fsynced", 5.0)
        stats = fs.stats()
        assert stats["writeback_flushes"] >= 1
        assert stats["writeback_metadata_ops"] >= 1  # strict: the create committed by age
        assert stats["fsyncs"] == 0 and stats["unsynced_bytes"] == 0
        result = fs.cut()
        close_quietly(fd)
        assert (backing / "f").read_bytes() == b"never fsynced"
        assert result["unsynced_bytes_at_cut"] == 0


def test_writeback_off_keeps_nothing_unsynced(dirs):
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="lenient", writeback_s=None) as fs:
        fs.mount()
        (mnt / "f").write_bytes(b"never fsynced")
        time.sleep(1.0)
        assert (backing / "f").read_bytes() == b""  # lenient: the name is durable, the data is not
        fs.cut()
        assert (backing / "f").read_bytes() == b""


# -------------------------------------------------------------------------------- lifecycle
def test_clean_unmount_makes_everything_durable_and_remount_loads_it(dirs):
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="strict", writeback_s=None) as fs:
        fs.mount()
        (mnt / "d").mkdir()
        (mnt / "d" / "f").write_bytes(b"x" * 10000)
        assert os.listdir(backing) == []
        fs.unmount()
        assert not fs.mounted
        assert (backing / "d" / "f").read_bytes() == b"x" * 10000
        fs.mount()
        assert (mnt / "d" / "f").read_bytes() == b"x" * 10000
    assert not is_mounted(mnt)


def test_sigterm_stops_the_daemon_cleanly(dirs):
    backing, mnt = dirs
    fs = PowerFS(backing, mnt, metadata="strict", writeback_s=None)
    try:
        fs.mount()
        (mnt / "f").write_bytes(b"pending")
        os.kill(fs.pid, signal.SIGTERM)
        assert wait_until(lambda: not fs.mounted and fs.pid is None, 10.0)
        assert (backing / "f").read_bytes() == b"pending"
    finally:
        fs.close()


def test_daemon_stops_when_its_parent_dies(dirs):
    """A harness killed with SIGKILL leaves no mount behind (the daemon watches its parent)."""
    backing, mnt = dirs
    script = (f"from harness.powerfs import PowerFS\n"
              f"fs = PowerFS({str(backing)!r}, {str(mnt)!r}, writeback_s=None).mount()\n"
              f"print(fs.control.parent, flush=True)\n"
              f"import time; time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        control_dir = Path(proc.stdout.readline().strip())
        assert control_dir.name.startswith("powerfs-")
        assert is_mounted(mnt)
        proc.kill()
        proc.wait()
        assert wait_until(lambda: not is_mounted(mnt), 10.0)
    finally:
        if proc.poll() is None:
            proc.kill()
    shutil.rmtree(control_dir, ignore_errors=True)  # the dead harness could not remove it


def test_a_killed_daemon_leaves_nothing_after_unmount_and_can_be_replaced(dirs):
    """SIGKILL to the daemon: the mount is dead ("transport endpoint is not connected"), the
    store is stale. unmount() still clears the mount; a new daemon starts on the durable state."""
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="lenient", writeback_s=None) as fs:
        fs.mount()
        fd = os.open(mnt / "f", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"synced")
        os.fsync(fd)
        os.write(fd, b" and not")
        os.kill(fs.pid, signal.SIGKILL)
        close_quietly(fd)
        assert wait_until(lambda: fs.pid is None, 5.0)
        fs.unmount()
        assert not is_mounted(mnt)
        assert (backing / "f").read_bytes() == b"synced"  # a killed daemon is a power cut
        fs.mount()
        assert (mnt / "f").read_bytes() == b"synced"


def test_open_with_o_trunc_truncates_and_is_durable_only_when_synced(dirs):
    backing, mnt = dirs
    (backing / "f").write_bytes(b"old content")
    with PowerFS(backing, mnt, metadata="strict", writeback_s=None) as fs:
        fs.mount()
        fd = os.open(mnt / "f", os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b"new")
        os.close(fd)
        assert (mnt / "f").read_bytes() == b"new"
        assert (backing / "f").read_bytes() == b"old content"
        fd = os.open(mnt / "f", os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        assert (backing / "f").read_bytes() == b"new"
        fd = os.open(mnt / "f", os.O_WRONLY | os.O_TRUNC)
        os.close(fd)
        assert (mnt / "f").read_bytes() == b""
        fs.cut()
    assert (backing / "f").read_bytes() == b"new"


def test_ftruncate_on_an_open_file_works_and_is_durable_only_when_synced(dirs):
    """A replica truncates the RDB it received through its file descriptor (Redis's readSyncBulkPayload):
    libfuse3 passes no path for it, only the file handle."""
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="lenient", writeback_s=None) as fs:
        fs.mount()
        fd = os.open(mnt / "temp.rdb", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"payload+EOFMARK")
        os.ftruncate(fd, len(b"payload"))
        os.fsync(fd)
        os.ftruncate(fd, 3)  # not synced: a cut brings the synced length back
        os.close(fd)
        assert (mnt / "temp.rdb").read_bytes() == b"pay"
        fs.cut()
    assert (backing / "temp.rdb").read_bytes() == b"payload"


def test_mount_errors_are_clear(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        PowerFS(tmp_path / "missing", tmp_path / "mnt").mount()


def test_unmount_with_a_busy_mount_still_leaves_nothing(dirs):
    backing, mnt = dirs
    fs = PowerFS(backing, mnt, metadata="lenient", writeback_s=None)
    fs.mount()
    holder = open(mnt / "held", "wb")  # an open file keeps the mount busy
    holder.write(b"x")
    try:
        fs.close()
        assert not is_mounted(mnt)
    finally:
        try:
            holder.close()
        except OSError:
            pass
    assert (backing / "held").exists()


def test_two_daemons_cannot_share_a_mountpoint(dirs):
    backing, mnt = dirs
    with PowerFS(backing, mnt, writeback_s=None) as first:
        first.mount()
        other_backing = backing.parent / "other"
        other_backing.mkdir()
        with PowerFS(other_backing, mnt, writeback_s=None) as second:
            with pytest.raises(Exception, match="already"):
                second.mount()
        assert first.mounted


def test_errors_through_the_mount(dirs):
    backing, mnt = dirs
    with PowerFS(backing, mnt, metadata="strict", writeback_s=None) as fs:
        fs.mount()
        (mnt / "d").mkdir()
        (mnt / "d" / "f").write_bytes(b"1")
        with pytest.raises(OSError) as exc:
            os.rmdir(mnt / "d")
        assert exc.value.errno == errno.ENOTEMPTY
        with pytest.raises(FileExistsError):
            os.open(mnt / "d" / "f", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        with pytest.raises(OSError) as exc:
            os.rename(mnt / "d", mnt / "d" / "e")
        assert exc.value.errno == errno.EINVAL
        with pytest.raises(OSError):
            os.mkfifo(mnt / "fifo")
        assert sorted(read_tree(mnt)) == ["d", "d/f"]
