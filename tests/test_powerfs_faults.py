"""powerfs's disk faults through a real mount: stalled fsyncs, EIO, ENOSPC, with real syscalls.

The rules are checked against the model in test_powerfs_state.py (and through a mount by
test_powerfs_mount.py's no-kernel-cache machine); here is what only a real mount can show:
how long a stalled fsync blocks, which other calls go on meanwhile, and that a stall never
keeps a mount or a daemon alive.
"""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from harness.powerfs import PowerFS, PowerFSError, is_mounted
from test_powerfs_mount import close_quietly, nothing_left_behind  # noqa: F401 - the autouse leftovers check

pytestmark = pytest.mark.usefixtures("fuse")


@pytest.fixture
def disk(tmp_path):
    """A powerfs mount as the disk faults use it: no kernel writeback cache, multithreaded."""
    backing, mnt = tmp_path / "backing", tmp_path / "mnt"
    backing.mkdir()
    mnt.mkdir()
    fs = PowerFS(backing, mnt, metadata="lenient", writeback_s=None, kernel_cache=False, multithreaded=True)
    fs.mount()
    try:
        yield fs, mnt
    finally:
        fs.close()


def timed(call, *args) -> tuple[float, object]:
    began = time.monotonic()
    result = call(*args)
    return time.monotonic() - began, result


def in_thread(call, *args) -> tuple[threading.Thread, dict]:
    """Run `call` in a thread; the dict gets its duration (or its error) when it ends."""
    out: dict = {}

    def run():
        began = time.monotonic()
        try:
            out["result"] = call(*args)
        except OSError as exc:
            out["error"] = exc
        out["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_stalled_fsync_blocks_for_the_time_asked_and_other_calls_go_on(disk):
    fs, mnt = disk
    aof = os.open(mnt / "appendonly.aof", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    other = os.open(mnt / "dump.rdb", os.O_CREAT | os.O_WRONLY, 0o644)
    reader = os.open(mnt / "appendonly.aof", os.O_RDONLY)
    try:
        os.write(aof, b"*1\r\n$4\r\nPING\r\n")
        fs.set_faults(stall_fsync_s=1.5)
        syncer, synced = in_thread(os.fdatasync, aof)
        time.sleep(0.3)  # the fsync is waiting in the daemon now
        other_write_s, _ = timed(os.write, other, b"x" * 4096)
        read_s, data = timed(os.pread, reader, 100, 0)
        stat_s, _ = timed(os.stat, mnt / "appendonly.aof")
        same_file, same = in_thread(os.write, aof, b"+more\r\n")
        syncer.join(10)
        same_file.join(10)
        assert 1.45 <= synced["seconds"] < 3.0, synced
        assert "error" not in synced
        # Meanwhile, calls on other files and reads of the same file were served at once ...
        assert other_write_s < 0.5 and read_s < 0.5 and stat_s < 0.5, (other_write_s, read_s, stat_s)
        assert data == b"*1\r\n$4\r\nPING\r\n"
        # ... but a write to the stalled file waited: Linux's FUSE driver holds the file's inode
        # lock for the whole FSYNC request (fs/fuse/file.c, fuse_fsync). Said in the README; if a
        # kernel stops doing so, this fails and the README must change.
        assert same["seconds"] > 0.8, same
        assert fs.stats()["stalled_fsyncs"] == 1
    finally:
        for fd in (aof, other, reader):
            os.close(fd)


def test_a_stall_window_ends_by_itself_and_clear_wakes_a_stalled_fsync(disk):
    fs, mnt = disk
    fd = os.open(mnt / "f", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        fs.set_faults(stall_fsync_s=0.4, for_s=0.8)
        first_s, _ = timed(os.fsync, fd)
        time.sleep(0.5)  # past the window
        after_s, _ = timed(os.fsync, fd)
        assert first_s >= 0.35 and after_s < 0.2, (first_s, after_s)
        fs.set_faults(stall_fsync_s=30)
        syncer, synced = in_thread(os.fsync, fd)
        time.sleep(0.3)
        fs.clear_faults()
        syncer.join(5)
        assert not syncer.is_alive() and synced["seconds"] < 2.0 and "error" not in synced, synced
    finally:
        os.close(fd)


def test_a_power_cut_during_a_stall_makes_nothing_durable_and_leaves_nothing_mounted(disk):
    fs, mnt = disk
    backing = fs.backing
    fd = os.open(mnt / "f", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"never durable")
    fs.set_faults(stall_fsync_s=30)
    syncer, synced = in_thread(os.fsync, fd)
    time.sleep(0.3)
    cut_s, result = timed(fs.cut)
    syncer.join(5)
    close_quietly(fd)
    assert cut_s < 5.0, cut_s  # the cut does not wait for the stall
    assert not syncer.is_alive() and "error" in synced, synced  # the fsync failed: the power was off
    assert result["unsynced_bytes_at_cut"] == len(b"never durable")
    assert (backing / "f").read_bytes() == b""
    assert not is_mounted(mnt)


def test_an_unmount_during_a_stall_ends_it(disk):
    """What Ctrl-C does in a trial: the harness unmounts while a fsync is stalled."""
    fs, mnt = disk
    fd = os.open(mnt / "f", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"data")
    fs.set_faults(stall_fsync_s=60)
    syncer, synced = in_thread(os.fsync, fd)
    time.sleep(0.3)
    close_quietly(fd)
    unmount_s, _ = timed(fs.unmount)
    syncer.join(10)
    assert unmount_s < 20 and not is_mounted(mnt) and not syncer.is_alive(), (unmount_s, synced)


def test_eio_and_enospc_reach_the_caller(disk):
    fs, mnt = disk
    fd = os.open(mnt / "appendonly.aof", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    log = os.open(mnt / "other.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"synced")
        os.fsync(fd)
        fs.set_faults(eio_write="once", files="*.aof")
        assert os.write(log, b"other files are fine") == 20
        with pytest.raises(OSError) as exc:
            os.write(fd, b"lost")
        assert exc.value.errno == errno.EIO
        assert os.write(fd, b"+again") == 6  # once: the next write works
        fs.set_faults(eio_fsync="sticky")
        for _ in range(2):
            with pytest.raises(OSError) as exc:
                os.fsync(fd)
            assert exc.value.errno == errno.EIO
        assert (fs.backing / "appendonly.aof").read_bytes() == b"synced"  # a failed fsync kept nothing
        fs.set_faults(free_bytes=10)
        assert os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize <= 10
        assert os.write(fd, b"0123456789abcdef") == 10  # cut short at the quota
        with pytest.raises(OSError) as exc:
            os.write(fd, b"x")
        assert exc.value.errno == errno.ENOSPC
        fs.clear_faults()  # space comes back
        assert os.write(fd, b"x") == 1
        os.fsync(fd)
        assert (fs.backing / "appendonly.aof").read_bytes() == b"synced+again0123456789x"
        stats = fs.stats()
        assert (stats["eio_writes"], stats["eio_fsyncs"], stats["short_writes"], stats["enospc_writes"]) == (1, 2, 1, 1)
    finally:
        os.close(fd)
        os.close(log)


def test_a_stall_needs_the_multithreaded_daemon(tmp_path):
    (tmp_path / "b").mkdir()
    with PowerFS(tmp_path / "b", tmp_path / "m", writeback_s=None) as fs:
        fs.mount()
        with pytest.raises(PowerFSError, match="multithreaded"):
            fs.set_faults(stall_fsync_s=1)
        with pytest.raises(PowerFSError, match="unknown disk fault setting 'slow'"):
            fs.set_faults(slow=1)


def test_a_flipped_bit_is_where_the_record_says_through_a_mount(tmp_path):
    """Flips applied at rest to the files powerfs serves read back flipped, at the recorded places."""
    from harness.faults.bitflip import apply_flips, choose_flips, persistence_files

    backing, mnt = tmp_path / "backing", tmp_path / "mnt"
    (backing / "appendonlydir").mkdir(parents=True)
    original = {"appendonlydir/appendonly.aof.1.incr.aof": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n" * 200,
                "dump.rdb": bytes(range(256)) * 8}
    for path, data in original.items():
        (backing / path).write_bytes(data)
    flips = apply_flips(backing, choose_flips(persistence_files(backing, "all"), 12, seed=7))
    with PowerFS(backing, mnt, metadata="lenient", writeback_s=None) as fs:
        fs.mount()
        expected = {path: bytearray(data) for path, data in original.items()}
        for flip in flips:
            expected[flip.path][flip.offset] ^= 1 << flip.bit
        for path in original:
            assert (mnt / path).read_bytes() == bytes(expected[path]), path  # the record, bit for bit
        flipped = sum(bin(a ^ b).count("1") for path, data in original.items()
                      for a, b in zip(data, (mnt / path).read_bytes()))
        assert flipped == 12
