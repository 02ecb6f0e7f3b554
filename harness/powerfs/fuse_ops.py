"""The FUSE operations of the power-loss filesystem, on top of `state.PowerState`.

Binding: mfusepy (ctypes over libfuse3's high-level API). The daemon runs libfuse's
single-threaded loop by default (measured faster: see __init__); every operation still takes
the state's lock, since the daemon's control, writeback and signal threads use the state too,
and `--multithreaded` stays safe. Open files are addressed by their inode number as the file
handle (`nullpath_ok`: no path lookups on read/write/fsync), names by path (resolved through
the current tree). `hard_remove` makes unlink a real unlink (libfuse would otherwise rename an
open file to `.fuse_hidden*`, a namespace change that a strict-mode model must not see).
Regular files and directories only: symlinks, hard links, device nodes and xattrs are refused.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading

# mfusepy looks for libfuse 2 first; this filesystem is written for libfuse 3 (its config
# struct, rename flags, nullpath_ok), so ask for it by name.
os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")

import mfusepy  # noqa: E402

from harness.powerfs.state import PowerState  # noqa: E402

if mfusepy.fuse_version_major != 3:
    raise ImportError(f"powerfs needs libfuse 3, mfusepy loaded libfuse {mfusepy.fuse_version_major}")

log = logging.getLogger("powerfs")

FUSE_CAP_WRITEBACK_CACHE = 1 << 16


def _ctx_owner() -> tuple[int, int]:
    uid, gid, _pid = mfusepy.fuse_get_context()
    return uid, gid


class PowerOps(mfusepy.Operations):
    """mfusepy operations; file handles are inode numbers."""

    use_ns = True
    flag_nullpath_ok = True
    flag_nopath = True

    def __init__(self, state: PowerState, kernel_cache: bool = True, attr_timeout: float = 1.0) -> None:
        self.state = state
        self.lock = state.lock
        self.kernel_cache = kernel_cache
        self.attr_timeout = attr_timeout
        self.kernel_cache_enabled = False
        self.on_destroy = None  # called (no lock held) when libfuse tears the filesystem down
        # Set: no fsync stalls (faults cleared, power cut, stopping); cleared while a stall is set.
        self.unstalled = threading.Event()
        self.unstalled.set()
        self.stalling = 0  # fsyncs waiting in a stall now

    def set_faults(self, settings: dict) -> dict:
        with self.lock:
            active = self.state.set_faults(settings)
        if active.get("stall_fsync_s"):
            self.unstalled.clear()
        return active

    def release_stalls(self) -> None:
        """Clear the disk faults and wake every stalled fsync (it then runs, or fails if the power is off)."""
        with self.lock:
            if not self.state.dead:
                self.state.clear_faults()
        self.unstalled.set()

    # -- lifecycle ----------------------------------------------------------------------
    def init_with_config(self, conn, config) -> None:
        if config is not None:
            config.hard_remove = 1
            config.use_ino = 1
            config.nullpath_ok = 1
            config.entry_timeout = self.attr_timeout
            config.attr_timeout = self.attr_timeout
            config.negative_timeout = 0.0
        if conn is not None and self.kernel_cache and conn.capable & FUSE_CAP_WRITEBACK_CACHE:
            conn.want |= FUSE_CAP_WRITEBACK_CACHE
            self.kernel_cache_enabled = True

    def destroy(self, path) -> None:
        if self.on_destroy is not None:
            self.on_destroy()

    # -- helpers ------------------------------------------------------------------------
    def _ino(self, path: str | None, fh: int | None) -> int:
        if fh is not None and fh in self.state.inodes:
            return fh
        if path is None:
            raise OSError(errno.EBADF, "no path and no file handle")
        return self.state.resolve(path)

    # -- attributes -----------------------------------------------------------------------
    def getattr(self, path, fh=None):
        with self.lock:
            return self.state.getattr(self._ino(path, fh))

    def chmod(self, path, mode, fh=None):
        with self.lock:
            self.state.chmod(self._ino(path, fh), mode)
        return 0

    def chown(self, path, uid, gid, fh=None):
        with self.lock:
            self.state.chown(self._ino(path, fh), uid, gid)
        return 0

    def utimens(self, path, times=None, fh=None):
        with self.lock:
            atime, mtime = times if times else (None, None)
            self.state.utimens(self._ino(path, fh), atime, mtime)
        return 0

    def statfs(self, path):
        st = os.statvfs(self.state.backing)
        out = {key: getattr(st, key) for key in (
            "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail",
            "f_flag", "f_namemax")}
        with self.lock:
            free = self.state.free_bytes()
        if free is not None:  # a byte quota (disk fault enospc): report what is left of it
            out["f_bfree"] = out["f_bavail"] = min(out["f_bavail"], free // max(1, out["f_frsize"]))
        return out

    # -- directories ----------------------------------------------------------------------
    def opendir(self, path):
        with self.lock:
            ino = self.state.resolve(path)
            self.state._dir(ino)
            self.state.open(ino)  # an open directory outlives its rmdir (fsync on its fd still works)
            return ino

    def readdir(self, path, fh):
        # Every entry carries its inode number (use_ino): an entry with inode 0 is one that
        # readdir(3) skips.
        with self.lock:
            ino = self._ino(path, fh)
            node = self.state.node(ino)
            items = self.state.readdir(ino)
            parent = node.parent or ino
        return [(".", {"st_mode": node.mode, "st_ino": ino}, 0),
                ("..", {"st_mode": stat.S_IFDIR | 0o755, "st_ino": parent}, 0)] + [
            (name, {"st_mode": mode, "st_ino": child}, 0) for name, child, mode in items]

    def releasedir(self, path, fh):
        with self.lock:
            self.state.release(fh)
        return 0

    def fsyncdir(self, path, datasync, fh):
        with self.lock:
            self.state.fsyncdir(self._ino(path, fh))
        return 0

    def mkdir(self, path, mode):
        uid, gid = _ctx_owner()
        with self.lock:
            parent, name = self.state.resolve_parent(path)
            self.state.mkdir(parent, name, mode, uid, gid)
        return 0

    def rmdir(self, path):
        with self.lock:
            parent, name = self.state.resolve_parent(path)
            self.state.rmdir(parent, name)
        return 0

    def unlink(self, path):
        with self.lock:
            parent, name = self.state.resolve_parent(path)
            self.state.unlink(parent, name)
        return 0

    def rename(self, old, new, flags=0):
        with self.lock:
            old_parent, old_name = self.state.resolve_parent(old)
            new_parent, new_name = self.state.resolve_parent(new)
            self.state.rename(old_parent, old_name, new_parent, new_name, flags)
        return 0

    # -- files ----------------------------------------------------------------------------
    def create(self, path, mode, flags=0):
        if not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            raise OSError(errno.EPERM, "only regular files and directories")
        uid, gid = _ctx_owner()
        with self.lock:
            parent, name = self.state.resolve_parent(path)
            ino = self.state.create(parent, name, mode, uid, gid)
            self.state.open(ino)
        return ino

    def mknod(self, path, mode, dev):
        if not stat.S_ISREG(mode):
            raise OSError(errno.EPERM, "only regular files and directories")
        uid, gid = _ctx_owner()
        with self.lock:
            parent, name = self.state.resolve_parent(path)
            self.state.create(parent, name, mode, uid, gid)
        return 0

    def open(self, path, flags):
        with self.lock:
            ino = self.state.resolve(path)
            self.state._file(ino)
            if flags & os.O_TRUNC and flags & (os.O_WRONLY | os.O_RDWR):
                self.state.truncate(ino, 0)
            self.state.open(ino)
        return ino

    def read(self, path, size, offset, fh):
        with self.lock:
            return self.state.read(fh, offset, size)

    def write(self, path, data, offset, fh):
        with self.lock:
            return self.state.write(fh, offset, data)

    def truncate(self, path, length, fh=None):
        with self.lock:
            self.state.truncate(self._ino(path, fh), length)
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        with self.lock:
            self.state.release(fh)
        return 0

    def fsync(self, path, datasync, fh):
        # A disk fault may stall it: wait outside the lock, so the daemon keeps serving other
        # calls (on libfuse's multithreaded loop; one thread would wait with it). What it cannot
        # free is the kernel's own lock: Linux's FUSE driver holds the file's inode lock for the
        # whole FSYNC request (fs/fuse/file.c, fuse_fsync), so a write() to the *same* file waits
        # for the stalled fsync; reads, stat and other files do not (measured: README, powerfs).
        with self.lock:
            stall = self.state.fsync_stall(fh)
        if stall > 0:
            with self.lock:
                self.stalling += 1
            try:
                self.unstalled.wait(stall)
            finally:
                with self.lock:
                    self.stalling -= 1
        with self.lock:
            fd = self.state.fsync(fh, bool(datasync))
        if fd is not None:  # real_sync: pay for a real flush, outside the lock
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        return 0


class PowerFUSE(mfusepy.FUSE):
    """mfusepy's FUSE runner, passing what its libfuse3 wrappers drop: rename flags, and the
    file handle of fchmod / fchown / futimens / ftruncate (with nullpath_ok their path is NULL: a
    replica's ftruncate of the RDB it received from its primary failed with EBADF without it)."""

    def _path(self, path):
        return None if path is None else path.decode(self.encoding, self.errors)

    @staticmethod
    def _fh(fip):
        return fip.contents.fh if fip else None

    def rename_fuse_3(self, old, new, flags):
        return self.operations.rename(self._path(old), self._path(new), flags)

    def chmod_fuse_3(self, path, mode, fip):
        return self.operations.chmod(self._path(path), mode, self._fh(fip))

    def chown_fuse_3(self, path, uid, gid, fip):
        return self.operations.chown(self._path(path), uid, gid, self._fh(fip))

    def truncate_fuse_3(self, path, length, fip):
        return self.operations.truncate(self._path(path), length, self._fh(fip))

    def utimens_fuse_3(self, path, buf, fip):
        times = None
        if buf:
            times = (_timespec_ns(buf.contents.actime), _timespec_ns(buf.contents.modtime))
        return self.operations.utimens(self._path(path), times, self._fh(fip))


_UTIME_NOW = (1 << 30) - 1
_UTIME_OMIT = (1 << 30) - 2


def _timespec_ns(ts) -> int | None:
    """Nanoseconds, None for UTIME_NOW, -1 for UTIME_OMIT (leave as it is)."""
    if ts.tv_nsec == _UTIME_NOW:
        return None
    if ts.tv_nsec == _UTIME_OMIT:
        return -1
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
