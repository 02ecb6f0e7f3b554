"""The core of the power-loss filesystem: what is written now versus what is durable.

No FUSE here. `PowerState` is an inode-based model with two views of the same tree:

* the **current** state, what a program sees (reads return the latest writes), and
* the **durable** state, what a power cut would leave. The backing directory always holds
  exactly the durable state, reachable from its root; nothing else is ever in it.

How the durable state is kept on disk: every file inode has a *store file* (in a private store
directory next to the backing directory, on the same filesystem) holding its durable bytes.
A file whose name is durable is a hard link from the backing tree to its store file, so a
durable name costs no copy, and making data durable is one `pwrite` into the store file
(immediately visible in the backing tree). Data not yet durable lives in memory, as dirty
4 KiB pages over the store file. Directories are materialised in the backing tree whenever the
durable namespace changes (`_reconcile`: the durable tree is diffed against what is on disk).

Durability rules
================
Data
    `fsync`/`fdatasync` on a file makes its data and size durable: the dirty pages are written
    into its store file (and the size set). Attributes (mode, owner, times) are not modelled:
    they are applied at once.
Names, ``metadata="strict"``
    Every namespace change (create, mkdir, unlink, rmdir, rename) is appended to a log of
    pending operations. `fsync` of directory D makes durable every pending operation on D, and
    with each of them every *earlier* pending operation on the other directories it touches (a
    rename touches both parents; rmdir and rename-over-a-directory also touch the removed
    directory, which must be empty). So each directory's durable listing is always its listing
    after a prefix of its own history, a rename is atomic (both names or neither), and a name is
    never durable before a fsync of its parent (or of the other parent of the rename that made
    it). A file whose data was fsynced but whose name never became durable is gone after a cut.
    Fsync of a file does not make its name durable (POSIX does not promise it).
Names, ``metadata="lenient"``
    Every namespace change is durable at once (applied to the backing tree as it happens).
Writeback (``writeback_s`` = N seconds, or None for off)
    As the kernel flusher does with `dirty_expire_centisecs`: a file whose oldest unsynced
    change (the moment it went from clean to dirty, as `inode->dirtied_when`) is N seconds old
    is written back whole, as if fsynced. In strict mode the same tick also commits the pending
    namespace operations that are N seconds old, in log order (a prefix of the log, so the
    durable tree stays consistent): one age rule for data and names, like a journal committed
    by the flusher. (ext4 commits its journal every 5 s, sooner than its data writeback; a
    single rule keeps the model simple and is conservative for names: they survive no sooner
    than data.) With writeback off, nothing becomes durable without an fsync.
Power cut (`cut`)
    Every non-durable change is dropped: the backing directory already holds exactly the durable
    state. The torn variant first writes a seeded random part of each durably named file's
    dirty pages (page-aligned, 4096 B), as a partial writeback would: per file, either an
    in-order prefix of its dirty pages with the size covering just them (a clean, shorter tail),
    or a random subset with the size either the new size or the end of the highest kept page
    (holes read as zeros, or as the old bytes where the file had older content: a tail Redis
    refuses as "Bad file format"). The seed and the file's path decide, so the same seed and
    the same history give the same result. Pending namespace operations are dropped in both.
Clean stop (`sync_all`)
    An unmount without a cut is a clean unmount: everything becomes durable, as umount syncs.
Disk faults (`set_faults`, `clear_faults`; the rules are in `harness/powerfs/faults.py`)
    While set, a matching write may fail with EIO, be cut short or fail with ENOSPC at a byte
    quota, and a matching fsync may fail with EIO (nothing made durable) or stall (the FUSE
    layer waits `fsync_stall()` seconds before running it). A failed call changes nothing.

The class is not thread-safe: callers hold `lock` around every call (the FUSE layer does).
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import shutil
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.powerfs.faults import DiskFaults

PAGE = 4096
ROOT = 1
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
METADATA_MODES = ("strict", "lenient")


def default_writeback_s() -> float:
    """This machine's `vm.dirty_expire_centisecs` in seconds (30 s when it cannot be read)."""
    try:
        return int(Path("/proc/sys/vm/dirty_expire_centisecs").read_text().strip()) / 100.0
    except (OSError, ValueError):
        return 30.0


def parse_writeback(text: str | float | None) -> float | None:
    """A writeback setting: seconds (> 0), "off" (never), or "kernel" (this machine's
    vm.dirty_expire_centisecs). The one reader for the CLI, fault options and the daemon."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        word = str(text).strip().lower()
        if word in ("off", "none", "no"):
            return None
        if word in ("kernel", "default"):
            return default_writeback_s()
        try:
            seconds = float(word)
        except ValueError:
            raise ValueError(f"writeback {text!r}: give seconds, 'off' or 'kernel'") from None
    if not seconds > 0:
        raise ValueError(f"writeback {text!r} must be positive seconds (or 'off')")
    return seconds


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, os.strerror(code) + (f": {what}" if what else ""))


class Inode:
    __slots__ = (
        "ino", "is_dir", "mode", "uid", "gid", "atime", "mtime", "ctime",
        # current namespace
        "parent", "name", "nlink", "entries", "opens",
        # durable namespace (directories): name -> ino; number of durable names (any inode)
        "dentries", "dlinks", "pending_refs",
        # file data
        "size", "durable_size", "valid_limit", "pages", "dirty_since",
    )

    def __init__(self, ino: int, is_dir: bool, mode: int, uid: int, gid: int, now_ns: int) -> None:
        self.ino = ino
        self.is_dir = is_dir
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.atime = self.mtime = self.ctime = now_ns
        self.parent: int | None = None
        self.name: str | None = None
        self.nlink = 0
        self.entries: dict[str, int] | None = {} if is_dir else None
        self.opens = 0
        self.dentries: dict[str, int] | None = {} if is_dir else None
        self.dlinks = 0
        self.pending_refs = 0
        self.size = 0
        self.durable_size = 0
        # Durable bytes at offsets >= valid_limit are stale (the file was truncated below them
        # since its last sync): they read as zeros unless a dirty page covers them.
        self.valid_limit = 0
        # page index -> [bytearray(PAGE), lo, hi]: the current page and the span of it written
        # since the last sync (for counting unsynced bytes).
        self.pages: dict[int, list] = {}
        self.dirty_since: float | None = None

    @property
    def dirty(self) -> bool:
        return bool(self.pages) or self.size != self.durable_size or self.valid_limit < self.durable_size

    def unsynced_bytes(self) -> int:
        total = 0
        for index, (_, lo, hi) in self.pages.items():
            hi = min(hi, self.size - index * PAGE)
            if hi > lo:
                total += hi - lo
        return total


@dataclass
class MetaOp:
    """One pending namespace operation (strict mode)."""

    kind: str  # "link" (create, mkdir), "unlink" (unlink, rmdir), "rename"
    args: tuple
    dirs: tuple[int, ...]  # the directories whose durable listing it changes or depends on
    inos: tuple[int, ...]  # every inode it refers to (kept alive while it is pending)
    at: float


# What the counters count (all since the daemon started):
#   writes, bytes_written     write requests that reached the filesystem (with the kernel's
#                             writeback cache: its page flushes, not the program's write() calls)
#   reads, bytes_read         read requests
#   truncates                 size changes (truncate, ftruncate, O_TRUNC)
#   fsyncs                    fsync/fdatasync on files;   fsync_bytes: unsynced bytes they made durable
#   dir_fsyncs                fsync on directories
#   metadata_ops              namespace changes (create, mkdir, unlink, rmdir, rename)
#   metadata_ops_committed    of those, made durable (by a directory fsync, writeback or at once)
#   writeback_flushes         files written back by age;  writeback_bytes: unsynced bytes they held
#   writeback_metadata_ops    pending namespace changes committed by age (strict)
# stats() adds unsynced_bytes (bytes written and not durable: the changed span of each dirty
# page), dirty_files and pending_metadata_ops; cut() reports them as unsynced_bytes_at_cut,
# dirty_files_at_cut, pending_metadata_ops_dropped, plus torn, seed, torn_bytes_kept,
# torn_pages_kept and torn_files (one entry per torn file: mode, sizes, pages kept).
# Disk faults: eio_writes, eio_fsyncs, enospc_writes (refused), short_writes (cut at the quota),
# stalled_fsyncs; stats() adds last_fsync_ns and last_fsync_path (the last file fsync that
# succeeded: wall clock, ns) and the faults set now.
COUNTERS = (
    "writes", "bytes_written", "reads", "bytes_read", "truncates", "fsyncs", "fsync_bytes", "dir_fsyncs",
    "metadata_ops", "metadata_ops_committed", "writeback_flushes", "writeback_bytes",
    "writeback_metadata_ops", "eio_writes", "eio_fsyncs", "enospc_writes", "short_writes", "stalled_fsyncs",
)


class PowerState:
    """The current and durable state of one backing directory. See the module docstring."""

    def __init__(
        self,
        backing: str | os.PathLike,
        store: str | os.PathLike | None = None,
        metadata: str = "strict",
        writeback_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        real_sync: bool = False,
    ) -> None:
        if metadata not in METADATA_MODES:
            raise ValueError(f"metadata must be one of {METADATA_MODES}, not {metadata!r}")
        if writeback_s is not None and writeback_s < 0:
            raise ValueError("writeback_s must be >= 0 or None (off)")
        self.backing = Path(backing).resolve()
        if not self.backing.is_dir():
            raise FileNotFoundError(errno.ENOENT, f"backing directory {self.backing} does not exist")
        self.store = Path(store) if store else default_store(self.backing)
        self.metadata = metadata
        self.strict = metadata == "strict"
        self.writeback_s = writeback_s
        self.clock = clock
        self.real_sync = real_sync
        self.lock = threading.RLock()
        self.inodes: dict[int, Inode] = {}
        self.log: list[MetaOp] = []
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.faults = DiskFaults()
        self.last_fsync: tuple[int, str] = (0, "")  # (wall clock ns, path) of the last good file fsync
        self.dead = False  # after cut() or close(): every call fails with EIO
        self.cut_result: dict | None = None
        self.skipped: list[str] = []  # backing entries that are neither files nor directories
        self._next_ino = ROOT
        self._fds: dict[int, int] = {}
        self._materialized: dict[str, tuple[int, ...]] = {}
        # One daemon per backing directory: a second one would wipe the first one's store.
        self._lock_fd = os.open(self.backing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise OSError(errno.EBUSY, f"{self.backing} is already served by another powerfs") from None
        try:
            self._prepare_store()
            self._load()
        except BaseException:
            self._release_lock()
            raise

    # ------------------------------------------------------------------ setup / teardown
    def _prepare_store(self) -> None:
        if self.store.exists():
            shutil.rmtree(self.store)  # a previous daemon's leftovers: the backing dir is the truth
        self.store.mkdir(mode=0o700, parents=True)
        st = os.stat(self.store)
        if st.st_dev != os.stat(self.backing).st_dev:
            raise OSError(errno.EXDEV, f"store {self.store} is not on the filesystem of {self.backing}")

    def _new_inode(self, is_dir: bool, mode: int, uid: int, gid: int) -> Inode:
        ino = self._next_ino
        self._next_ino += 1
        node = Inode(ino, is_dir, mode, uid, gid, time.time_ns())
        self.inodes[ino] = node
        return node

    def _load(self) -> None:
        """The current state = the durable state = what the backing directory holds now."""
        st = os.stat(self.backing)
        root = self._new_inode(True, st.st_mode, st.st_uid, st.st_gid)
        root.nlink = 1
        root.dlinks = 1
        stack = [(root, self.backing)]
        while stack:
            parent, path = stack.pop()
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
            for entry in entries:
                est = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(est.st_mode):
                    node = self._new_inode(True, est.st_mode, est.st_uid, est.st_gid)
                    stack.append((node, Path(entry.path)))
                elif stat.S_ISREG(est.st_mode):
                    node = self._new_inode(False, est.st_mode, est.st_uid, est.st_gid)
                    os.link(entry.path, self._store_path(node.ino))
                    node.size = node.durable_size = node.valid_limit = est.st_size
                else:
                    self.skipped.append(os.path.relpath(entry.path, self.backing))
                    continue
                node.atime, node.mtime, node.ctime = est.st_atime_ns, est.st_mtime_ns, est.st_ctime_ns
                node.parent, node.name, node.nlink, node.dlinks = parent.ino, entry.name, 1, 1
                parent.entries[entry.name] = node.ino
                parent.dentries[entry.name] = node.ino
        self._materialized = self._desired_tree()

    def close(self) -> None:
        """Forget everything in memory and remove the store (the backing dir stays as it is)."""
        self.dead = True
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()
        self.inodes.clear()
        self.log.clear()
        shutil.rmtree(self.store, ignore_errors=True)
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ helpers
    def _store_path(self, ino: int) -> str:
        return f"{self.store}/{ino}"

    def _fd(self, ino: int) -> int:
        fd = self._fds.get(ino)
        if fd is None:
            fd = os.open(self._store_path(ino), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fds[ino] = fd
        return fd

    def _alive(self) -> None:
        if self.dead:
            raise _err(errno.EIO, "the power was cut")

    def node(self, ino: int) -> Inode:
        self._alive()
        node = self.inodes.get(ino)
        if node is None:
            raise _err(errno.ENOENT)
        return node

    def _dir(self, ino: int) -> Inode:
        node = self.node(ino)
        if not node.is_dir:
            raise _err(errno.ENOTDIR)
        return node

    def _file(self, ino: int) -> Inode:
        node = self.node(ino)
        if node.is_dir:
            raise _err(errno.EISDIR)
        return node

    def lookup(self, parent: int, name: str) -> int:
        ino = self._dir(parent).entries.get(name)
        if ino is None:
            raise _err(errno.ENOENT, name)
        return ino

    def resolve(self, path: str) -> int:
        """The inode at a current path ("/a/b", relative to the mount root)."""
        self._alive()
        ino = ROOT
        for part in path.split("/"):
            if part:
                ino = self.lookup(ino, part)
        return ino

    def resolve_parent(self, path: str) -> tuple[int, str]:
        head, _, name = path.rstrip("/").rpartition("/")
        if not name:
            raise _err(errno.EINVAL, path)
        return self.resolve(head), name

    def _touch(self, node: Inode, now_ns: int | None = None) -> None:
        node.mtime = node.ctime = now_ns or time.time_ns()

    def _mark_dirty(self, node: Inode) -> None:
        if node.dirty_since is None:
            node.dirty_since = self.clock()

    # ------------------------------------------------------------------ attributes
    def getattr(self, ino: int) -> dict:
        node = self.node(ino)
        size = 4096 if node.is_dir else node.size
        return {
            "st_ino": ino,
            "st_mode": node.mode,
            "st_nlink": (2 if node.is_dir else 1) if node.nlink else 0,
            "st_size": size,
            "st_uid": node.uid,
            "st_gid": node.gid,
            "st_atime": node.atime,
            "st_mtime": node.mtime,
            "st_ctime": node.ctime,
            "st_blocks": (size + 511) // 512,
            "st_blksize": PAGE,
        }

    def chmod(self, ino: int, mode: int) -> None:
        node = self.node(ino)
        node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
        node.ctime = time.time_ns()
        if not node.is_dir:
            os.fchmod(self._fd(ino), mode & 0o7777)
        else:
            rel = self.durable_path(ino) if ino != ROOT else ""
            if rel is not None:
                os.chmod(f"{self.backing}/{rel}", mode & 0o7777)

    def chown(self, ino: int, uid: int, gid: int) -> None:
        node = self.node(ino)
        if uid != -1 and uid != 0xFFFFFFFF:
            node.uid = uid
        if gid != -1 and gid != 0xFFFFFFFF:
            node.gid = gid
        node.ctime = time.time_ns()
        if not node.is_dir:
            _try_chown(self._fd(ino), node.uid, node.gid)

    def utimens(self, ino: int, atime_ns: int | None, mtime_ns: int | None) -> None:
        """Times in ns; None means now, -1 leaves that time as it is (UTIME_OMIT)."""
        node = self.node(ino)
        now = time.time_ns()
        if atime_ns != -1:
            node.atime = now if atime_ns is None else atime_ns
        if mtime_ns != -1:
            node.mtime = now if mtime_ns is None else mtime_ns
        node.ctime = now

    def readdir(self, ino: int) -> list[tuple[str, int, int]]:
        """(name, inode, mode) of each current entry."""
        node = self._dir(ino)
        return [(name, child, self.inodes[child].mode) for name, child in node.entries.items()]

    def open(self, ino: int) -> None:
        self.node(ino).opens += 1

    def release(self, ino: int) -> None:
        node = self.inodes.get(ino)
        if node is None or self.dead:
            return
        node.opens = max(0, node.opens - 1)
        if node.opens == 0 and node.nlink == 0:
            # The last close of a file with no name: the kernel frees it; its unsynced data is gone.
            node.pages.clear()
            node.size = node.durable_size
            node.valid_limit = node.durable_size
            node.dirty_since = None
        self._gc(node)

    # ------------------------------------------------------------------ namespace (current)
    def create(self, parent: int, name: str, mode: int, uid: int = 0, gid: int = 0) -> int:
        return self._link_new(parent, name, False, stat.S_IFREG | (mode & 0o7777), uid, gid)

    def mkdir(self, parent: int, name: str, mode: int, uid: int = 0, gid: int = 0) -> int:
        return self._link_new(parent, name, True, stat.S_IFDIR | (mode & 0o7777), uid, gid)

    def _link_new(self, parent: int, name: str, is_dir: bool, mode: int, uid: int, gid: int) -> int:
        pnode = self._dir(parent)
        _check_name(name)
        if name in pnode.entries:
            raise _err(errno.EEXIST, name)
        node = self._new_inode(is_dir, mode, uid, gid)
        if not is_dir:
            fd = self._fd(node.ino)  # the store file exists from the start (empty, durable size 0)
            os.fchmod(fd, mode & 0o7777)
            _try_chown(fd, uid, gid)
        node.parent, node.name, node.nlink = parent, name, 1
        pnode.entries[name] = node.ino
        self._touch(pnode)
        self._record(MetaOp("link", (parent, name, node.ino), (parent,), (node.ino,), self.clock()))
        return node.ino

    def unlink(self, parent: int, name: str) -> None:
        self._remove(parent, name, want_dir=False)

    def rmdir(self, parent: int, name: str) -> None:
        self._remove(parent, name, want_dir=True)

    def _remove(self, parent: int, name: str, want_dir: bool) -> None:
        pnode = self._dir(parent)
        ino = pnode.entries.get(name)
        if ino is None:
            raise _err(errno.ENOENT, name)
        node = self.inodes[ino]
        if want_dir and not node.is_dir:
            raise _err(errno.ENOTDIR, name)
        if not want_dir and node.is_dir:
            raise _err(errno.EISDIR, name)
        if want_dir and node.entries:
            raise _err(errno.ENOTEMPTY, name)
        del pnode.entries[name]
        node.parent, node.name, node.nlink = None, None, 0
        self._touch(pnode)
        node.ctime = pnode.mtime
        dirs = (parent, ino) if want_dir else (parent,)
        self._record(MetaOp("unlink", (parent, name, ino), dirs, (ino,), self.clock()))
        if not node.is_dir and node.opens == 0:
            self.release_data_if_unreachable(node)
        self._gc(node)

    def release_data_if_unreachable(self, node: Inode) -> None:
        """A closed file that lost its last name: its unsynced data can never be reached again."""
        node.pages.clear()
        node.size = node.valid_limit = node.durable_size
        node.dirty_since = None

    def rename(self, old_parent: int, old_name: str, new_parent: int, new_name: str, flags: int = 0) -> None:
        if flags & RENAME_EXCHANGE or flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
            raise _err(errno.EINVAL, "only RENAME_NOREPLACE is supported")
        src_dir = self._dir(old_parent)
        dst_dir = self._dir(new_parent)
        _check_name(new_name)
        ino = src_dir.entries.get(old_name)
        if ino is None:
            raise _err(errno.ENOENT, old_name)
        node = self.inodes[ino]
        victim_ino = dst_dir.entries.get(new_name)
        if victim_ino == ino:
            return
        if victim_ino is not None and flags & RENAME_NOREPLACE:
            raise _err(errno.EEXIST, new_name)
        if node.is_dir:
            # A directory cannot move into itself or below itself.
            walk: int | None = new_parent
            while walk is not None:
                if walk == ino:
                    raise _err(errno.EINVAL, "a directory cannot move below itself")
                walk = self.inodes[walk].parent
        victim = self.inodes[victim_ino] if victim_ino is not None else None
        if victim is not None:
            if victim.is_dir and not node.is_dir:
                raise _err(errno.EISDIR, new_name)
            if node.is_dir and not victim.is_dir:
                raise _err(errno.ENOTDIR, new_name)
            if victim.is_dir and victim.entries:
                raise _err(errno.ENOTEMPTY, new_name)
        del src_dir.entries[old_name]
        dst_dir.entries[new_name] = ino
        node.parent, node.name = new_parent, new_name
        now = time.time_ns()
        self._touch(src_dir, now)
        self._touch(dst_dir, now)
        node.ctime = now
        dirs: tuple[int, ...] = (old_parent, new_parent) if old_parent != new_parent else (old_parent,)
        inos: tuple[int, ...] = (ino,)
        if victim is not None:
            victim.parent, victim.name, victim.nlink = None, None, 0
            inos = (ino, victim.ino)
            if victim.is_dir:
                dirs += (victim.ino,)
        self._record(MetaOp("rename", (old_parent, old_name, new_parent, new_name, ino), dirs, inos, self.clock()))
        if victim is not None:
            if not victim.is_dir and victim.opens == 0:
                self.release_data_if_unreachable(victim)
            self._gc(victim)

    # ------------------------------------------------------------------ namespace (durable)
    def _record(self, op: MetaOp) -> None:
        self.counters["metadata_ops"] += 1
        if not self.strict:
            self._apply(op)
            self.counters["metadata_ops_committed"] += 1
            self._reconcile()
            return
        for ino in op.inos:
            self.inodes[ino].pending_refs += 1
        self.log.append(op)

    def _apply(self, op: MetaOp) -> None:
        """Apply one operation to the durable namespace (the inode graph of durable listings)."""
        if op.kind == "link":
            parent, name, ino = op.args
            self.inodes[parent].dentries[name] = ino
            self.inodes[ino].dlinks += 1
        elif op.kind == "unlink":
            parent, name, ino = op.args
            removed = self.inodes[parent].dentries.pop(name)
            assert removed == ino, f"durable unlink of {name}: {removed} != {ino}"
            self.inodes[ino].dlinks -= 1
        else:
            old_parent, old_name, new_parent, new_name, ino = op.args
            moved = self.inodes[old_parent].dentries.pop(old_name)
            assert moved == ino, f"durable rename of {old_name}: {moved} != {ino}"
            victim = self.inodes[new_parent].dentries.get(new_name)
            if victim is not None:
                self.inodes[victim].dlinks -= 1
            self.inodes[new_parent].dentries[new_name] = ino

    def _commit(self, ops: list[MetaOp]) -> None:
        """Make these pending operations durable (in log order) and update the backing tree."""
        if not ops:
            return
        chosen = {id(op) for op in ops}
        for op in ops:
            self._apply(op)
        self.log = [op for op in self.log if id(op) not in chosen]
        self.counters["metadata_ops_committed"] += len(ops)
        self._reconcile()
        for op in ops:
            for ino in op.inos:
                node = self.inodes.get(ino)
                if node is not None:
                    node.pending_refs -= 1
                    self._gc(node)

    def _ops_for_dir(self, ino: int) -> list[MetaOp]:
        """The pending operations a fsync of directory `ino` makes durable (see the docstring)."""
        touched = {ino}
        chosen = []
        for op in reversed(self.log):
            if any(d in touched for d in op.dirs):
                chosen.append(op)
                touched.update(op.dirs)
        chosen.reverse()
        return chosen

    def _desired_tree(self) -> dict[str, tuple[int, ...]]:
        """The durable tree reachable from the root: relative path -> inode chain from the root."""
        out: dict[str, tuple[int, ...]] = {}
        stack: list[tuple[str, int, tuple[int, ...]]] = [("", ROOT, (ROOT,))]
        while stack:
            path, ino, chain = stack.pop()
            for name, child in self.inodes[ino].dentries.items():
                sub = f"{path}/{name}" if path else name
                sub_chain = chain + (child,)
                out[sub] = sub_chain
                if self.inodes[child].is_dir:
                    stack.append((sub, child, sub_chain))
        return out

    def _reconcile(self) -> None:
        """Make the backing tree equal the durable tree (hard links to store files, mkdir, rm)."""
        desired = self._desired_tree()
        before = self._materialized
        removals = [p for p, chain in before.items() if desired.get(p) != chain]
        additions = [p for p, chain in desired.items() if before.get(p) != chain]
        for rel in sorted(removals, key=lambda p: p.count("/"), reverse=True):
            full = f"{self.backing}/{rel}"
            node = self.inodes.get(before[rel][-1])
            try:
                if node is not None and node.is_dir:
                    os.rmdir(full)
                else:
                    os.unlink(full)
            except IsADirectoryError:
                os.rmdir(full)
            except FileNotFoundError:
                pass
        for rel in sorted(additions, key=lambda p: p.count("/")):
            full = f"{self.backing}/{rel}"
            node = self.inodes[desired[rel][-1]]
            if node.is_dir:
                os.mkdir(full, node.mode & 0o7777)
                os.chmod(full, node.mode & 0o7777)
                _try_chown(full, node.uid, node.gid)
            else:
                os.link(self._store_path(node.ino), full)
        self._materialized = desired

    def _gc(self, node: Inode) -> None:
        """Drop an inode nothing can reach: no current name, not open, no durable name, no pending op."""
        if node.ino == ROOT or node.nlink or node.opens or node.dlinks or node.pending_refs:
            return
        self.inodes.pop(node.ino, None)
        if not node.is_dir:
            fd = self._fds.pop(node.ino, None)
            if fd is not None:
                os.close(fd)
            try:
                os.unlink(self._store_path(node.ino))
            except FileNotFoundError:
                pass

    def current_file_paths(self) -> list[str]:
        """Relative paths of every file that has a current name."""
        out: list[str] = []
        stack: list[tuple[str, int]] = [("", ROOT)]
        while stack:
            path, ino = stack.pop()
            for name, child in self.inodes[ino].entries.items():
                sub = f"{path}/{name}" if path else name
                if self.inodes[child].is_dir:
                    stack.append((sub, child))
                else:
                    out.append(sub)
        return out

    def durable_path(self, ino: int) -> str | None:
        """The inode's path in the backing tree, if its name is durable and reachable."""
        for path, chain in self._materialized.items():
            if chain[-1] == ino:
                return path
        return None

    # ------------------------------------------------------------------ data
    def _page_view(self, node: Inode, index: int) -> bytearray:
        """The current content of one page that has no dirty copy: durable bytes or zeros."""
        buf = bytearray(PAGE)
        start = index * PAGE
        valid_end = min(node.valid_limit, node.durable_size)
        if start < valid_end:
            data = os.pread(self._fd(node.ino), min(PAGE, valid_end - start), start)
            buf[: len(data)] = data
        return buf

    def write(self, ino: int, offset: int, data: bytes) -> int:
        node = self._file(ino)
        n = len(data)
        if n == 0:
            return 0
        if offset < 0:
            raise _err(errno.EINVAL)
        if self.faults.any:
            n = self._faulted_write(node, offset, n)
            data = memoryview(data)[:n]
        view = memoryview(data)
        pages = node.pages
        valid_end = min(node.valid_limit, node.durable_size)
        index, po = divmod(offset, PAGE)
        pos = 0
        while pos < n:
            take = min(PAGE - po, n - pos)
            page = pages.get(index)
            if page is None:
                start = index * PAGE
                if start >= valid_end:
                    page = pages[index] = [bytearray(PAGE), po, po + take]
                else:
                    # The page holds durable bytes: only those that change count as unsynced (the
                    # kernel's writeback cache sends whole pages, durable head included).
                    buf = self._page_view(node, index)
                    lo, hi = PAGE, 0
                    same_end = min(po + take, valid_end - start)
                    if same_end > po:
                        span = _changed_span(buf[po:same_end], view[pos : pos + same_end - po])
                        if span is not None:
                            lo, hi = po + span[0], po + span[1]
                    if po + take > same_end:
                        lo, hi = min(lo, max(po, same_end)), po + take
                    page = pages[index] = [buf, lo, hi]
            else:
                if po < page[1]:
                    page[1] = po
                if po + take > page[2]:
                    page[2] = po + take
            page[0][po : po + take] = view[pos : pos + take]
            pos += take
            index += 1
            po = 0
        end = offset + n
        if end > node.size:
            node.size = end
        self._mark_dirty(node)
        self._touch(node)
        c = self.counters
        c["writes"] += 1
        c["bytes_written"] += n
        return n

    def read(self, ino: int, offset: int, size: int) -> bytes:
        node = self._file(ino)
        end = min(node.size, offset + size)
        if offset >= end:
            return b""
        self.counters["reads"] += 1
        self.counters["bytes_read"] += end - offset
        valid_end = min(node.valid_limit, node.durable_size)
        if not node.pages and end <= valid_end:
            return os.pread(self._fd(ino), end - offset, offset)
        out = bytearray(end - offset)
        if offset < valid_end:
            data = os.pread(self._fd(ino), min(end, valid_end) - offset, offset)
            out[: len(data)] = data
        if node.pages:
            first, last = offset // PAGE, (end - 1) // PAGE
            if len(node.pages) < last - first + 1:
                indices = [i for i in node.pages if first <= i <= last]
            else:
                indices = [i for i in range(first, last + 1) if i in node.pages]
            for index in indices:
                page_start = index * PAGE
                lo = max(offset, page_start)
                hi = min(end, page_start + PAGE)
                out[lo - offset : hi - offset] = node.pages[index][0][lo - page_start : hi - page_start]
        return bytes(out)

    def truncate(self, ino: int, size: int) -> None:
        node = self._file(ino)
        if size < 0:
            raise _err(errno.EINVAL)
        self.counters["truncates"] += 1
        if self.faults.any:
            self.faults.resized(self.path_of(ino), node.size, size, self.clock())  # a shrink gives quota back
        if size < node.size:
            keep_pages = (size + PAGE - 1) // PAGE
            for index in [i for i in node.pages if i >= keep_pages]:
                del node.pages[index]
            tail = size % PAGE
            if tail:
                index = size // PAGE
                page = node.pages.get(index)
                if page is None:
                    page = node.pages[index] = [self._page_view(node, index), PAGE, 0]
                page[0][tail:] = bytes(PAGE - tail)
                page[2] = min(page[2], tail)
            node.valid_limit = min(node.valid_limit, size)
        node.size = size
        if node.dirty:
            self._mark_dirty(node)
        self._touch(node)

    def _flush_file(self, node: Inode) -> int:
        """Write the file's dirty state into its store file (durable). Returns bytes made durable."""
        if not node.dirty:
            node.dirty_since = None
            return 0
        fd = self._fd(node.ino)
        made = node.unsynced_bytes()
        valid_end = min(node.valid_limit, node.durable_size)
        if valid_end < node.durable_size:
            os.ftruncate(fd, valid_end)  # forget the bytes a truncation made stale
            node.durable_size = valid_end
        if node.size != node.durable_size:
            os.ftruncate(fd, node.size)
        size = node.size
        run_start = None
        bufs: list = []
        for index in sorted(node.pages):
            if run_start is not None and index != run_start + len(bufs):
                os.pwritev(fd, bufs, run_start * PAGE)
                run_start, bufs = None, []
            if run_start is None:
                run_start = index
            buf = node.pages[index][0]
            room = size - index * PAGE
            bufs.append(buf if room >= PAGE else memoryview(buf)[:room])
            if len(bufs) >= 256:  # stay well under IOV_MAX
                os.pwritev(fd, bufs, run_start * PAGE)
                run_start, bufs = None, []
        if bufs:
            os.pwritev(fd, bufs, run_start * PAGE)
        node.pages = {}
        node.durable_size = node.valid_limit = size
        node.dirty_since = None
        return made

    def fsync(self, ino: int, datasync: bool = False) -> int | None:
        """Make the file's data durable. Returns a duplicated store fd to sync for real (real_sync)
        outside the lock, which the caller closes, or None."""
        node = self._file(ino)
        if self.faults.any:
            try:
                self.faults.check_fsync(self.path_of(ino), self.clock())
            except OSError:
                self.counters["eio_fsyncs"] += 1
                raise
        self.counters["fsyncs"] += 1
        self.counters["fsync_bytes"] += self._flush_file(node)
        self.last_fsync = (time.time_ns(), self.path_of(ino) or "")
        if self.real_sync:
            return os.dup(self._fd(ino))
        return None

    def fsyncdir(self, ino: int) -> None:
        self._dir(ino)
        self.counters["dir_fsyncs"] += 1
        if self.strict:
            self._commit(self._ops_for_dir(ino))

    def writeback_tick(self, now: float | None = None) -> int:
        """Write back what is `writeback_s` old (see the module docstring). Returns files flushed."""
        if self.writeback_s is None or self.dead:
            return 0
        now = self.clock() if now is None else now
        cutoff = now - self.writeback_s
        flushed = 0
        for node in list(self.inodes.values()):
            if node.dirty_since is not None and node.dirty_since <= cutoff:
                self.counters["writeback_bytes"] += self._flush_file(node)
                flushed += 1
        self.counters["writeback_flushes"] += flushed
        if self.strict and self.log and self.log[0].at <= cutoff:
            count = 0
            while count < len(self.log) and self.log[count].at <= cutoff:
                count += 1
            self.counters["writeback_metadata_ops"] += count
            self._commit(self.log[:count])
        return flushed

    def next_writeback_due(self) -> float | None:
        """When the oldest unsynced change reaches the writeback age (clock time), or None."""
        if self.writeback_s is None:
            return None
        oldest = [n.dirty_since for n in self.inodes.values() if n.dirty_since is not None]
        if self.strict and self.log:
            oldest.append(self.log[0].at)
        return min(oldest) + self.writeback_s if oldest else None

    # ------------------------------------------------------------------ whole-filesystem events
    def unsynced_bytes(self) -> int:
        return sum(node.unsynced_bytes() for node in self.inodes.values() if not node.is_dir)

    def stats(self) -> dict:
        out = dict(self.counters)
        live = not self.dead
        out.update(
            metadata=self.metadata,
            writeback_s=self.writeback_s,
            unsynced_bytes=self.unsynced_bytes() if live else 0,
            dirty_files=sum(1 for n in self.inodes.values() if not n.is_dir and n.dirty) if live else 0,
            pending_metadata_ops=len(self.log),
            cut=self.cut_result is not None,
            last_fsync_ns=self.last_fsync[0],
            last_fsync_path=self.last_fsync[1],
            faults=self.faults.describe() if self.faults.active(self.clock()) else None,
        )
        return out

    # ------------------------------------------------------------------ disk faults
    def set_faults(self, settings: dict) -> dict:
        """Start failing as `settings` say (harness/powerfs/faults.py); replaces faults set before."""
        self._alive()
        self.faults = DiskFaults.parse(settings, self.clock())
        return self.faults.describe()

    def clear_faults(self) -> None:
        self.faults = DiskFaults()

    def fsync_stall(self, ino: int) -> float:
        """Seconds a fsync of this file must wait before it runs (0: none); counted."""
        if not self.faults.any:
            return 0.0
        stall = self.faults.stall_for(self.path_of(ino), self.clock())
        if stall > 0:
            self.counters["stalled_fsyncs"] += 1
        return stall

    def free_bytes(self) -> int | None:
        """What statfs reports as free while a byte quota is set (None: the backing disk's)."""
        return self.faults.quota(self.clock()) if self.faults.any else None

    def _faulted_write(self, node: Inode, offset: int, n: int) -> int:
        """How many bytes of this write the disk faults let through (raising EIO / ENOSPC)."""
        now = self.clock()
        try:
            allowed = self.faults.allowed_write(self.path_of(node.ino), offset, node.size, n, now)
        except OSError as exc:
            self.counters["eio_writes" if exc.errno == errno.EIO else "enospc_writes"] += 1
            raise
        if allowed < n:
            self.counters["short_writes"] += 1
        return allowed

    def path_of(self, ino: int) -> str:
        """The current path of an inode inside the mount ('' for the root or a file with no name)."""
        parts = []
        node = self.inodes.get(ino)
        while node is not None and node.ino != ROOT and node.name is not None:
            parts.append(node.name)
            node = self.inodes.get(node.parent) if node.parent is not None else None
        return "/".join(reversed(parts))

    def sync_all(self) -> None:
        """A clean unmount: every file's data and every pending name become durable."""
        if self.dead:
            return
        for node in list(self.inodes.values()):
            if not node.is_dir and node.dirty:
                self._flush_file(node)
        self._commit(list(self.log))

    def cut(self, torn: bool = False, seed: int = 0) -> dict:
        """Power cut: drop everything not durable (torn: keep seeded page-aligned parts of it).

        Returns the counters at the cut. Afterwards every call fails with EIO."""
        self._alive()
        result = self.stats()
        result.update(
            torn=bool(torn),
            seed=int(seed),
            unsynced_bytes_at_cut=result.pop("unsynced_bytes"),
            dirty_files_at_cut=result.pop("dirty_files"),
            pending_metadata_ops_dropped=len(self.log),
            dropped_metadata=self._describe_pending(),
            torn_bytes_kept=0,
            torn_pages_kept=0,
            torn_files=[],
        )
        result.pop("pending_metadata_ops")
        result.pop("cut")
        if torn:
            for rel, chain in sorted(self._materialized.items()):
                node = self.inodes[chain[-1]]
                if not node.is_dir and node.dirty:
                    detail = self._tear(node, rel, seed)
                    result["torn_bytes_kept"] += detail["bytes_kept"]
                    result["torn_pages_kept"] += detail["pages_kept"]
                    result["torn_files"].append(detail)
        # Every durable byte is already in the store files (the backing tree links them) and
        # every durable name in the backing tree: dropping the memory is the cut.
        for node in self.inodes.values():
            node.pages = {}
            node.dirty_since = None
        self.log.clear()
        self.cut_result = result
        self.dead = True
        return result

    def _describe_pending(self) -> list[str]:
        """The pending namespace changes in words, e.g. 'create appendonlydir/x.aof (its
        directory was never fsynced)': what a strict-mode cut loses, for the report."""
        dirs = {ROOT: ""}
        stack = [ROOT]
        while stack:
            ino = stack.pop()
            for name, child in (self.inodes[ino].entries or {}).items():
                if self.inodes[child].is_dir:
                    dirs[child] = f"{dirs[ino]}/{name}".lstrip("/")
                    stack.append(child)

        def path(parent: int, name: str) -> str:
            return f"{dirs.get(parent, '?')}/{name}".lstrip("/")

        words = []
        for op in self.log:
            if op.kind == "link":
                words.append(f"create {path(op.args[0], op.args[1])}")
            elif op.kind == "unlink":
                words.append(f"remove {path(op.args[0], op.args[1])}")
            else:
                words.append(f"rename {path(op.args[0], op.args[1])} -> {path(op.args[2], op.args[3])}")
        return words

    def _tear(self, node: Inode, rel: str, seed: int) -> dict:
        """Write a seeded random, page-aligned part of one file's unsynced state (partial writeback)."""
        rng = random.Random(f"{seed}:{rel}")
        indices = sorted(node.pages)
        old_size = node.durable_size
        current_size = node.size
        if rng.random() < 0.5:
            mode = "prefix"  # in-order writeback interrupted: a clean but shorter tail
            kept = indices[: rng.randint(0, len(indices))]
            size_rule = "cover"
        else:
            mode = "scatter"  # out-of-order writeback: holes, or old bytes, inside the new size
            kept = [i for i in indices if rng.random() < 0.5]
            size_rule = rng.choice(("new", "cover"))
        if size_rule == "new":
            new_size = node.size
        else:
            cover = max(((i + 1) * PAGE for i in kept), default=0)
            new_size = max(old_size if node.size >= old_size else node.size, min(node.size, cover))
        fd = self._fd(node.ino)
        truncated = False
        valid_end = min(node.valid_limit, node.durable_size)
        if new_size != old_size and valid_end < old_size:
            os.ftruncate(fd, valid_end)  # the size change carries the truncation with it
            truncated = True
        bytes_kept = 0
        for index in kept:
            buf, lo, hi = node.pages[index]
            room = min(PAGE, new_size - index * PAGE)
            if room <= 0:
                continue
            os.pwrite(fd, memoryview(buf)[:room], index * PAGE)
            bytes_kept += max(0, min(hi, room) - lo)
        os.ftruncate(fd, new_size)
        node.durable_size = node.valid_limit = node.size = new_size
        return {
            "path": rel,
            "mode": mode,
            "old_size": old_size,
            "current_size": current_size,
            "new_size": new_size,
            "dirty_pages": len(indices),
            "pages_kept": sum(1 for i in kept if i * PAGE < new_size),
            "bytes_kept": bytes_kept,
            "truncation_kept": truncated,
        }


def _changed_span(old, new) -> tuple[int, int] | None:
    """(first, end) of the bytes that differ between two equal-length buffers, None if equal."""
    if old == new:
        return None
    x = int.from_bytes(old, "big") ^ int.from_bytes(new, "big")
    n = len(old)
    first = n - (x.bit_length() + 7) // 8
    last = n - 1 - ((x & -x).bit_length() - 1) // 8
    return first, last + 1


def default_store(backing: Path) -> Path:
    """Where the durable bytes of files live: beside the backing dir, on the same filesystem."""
    return backing.parent / f".{backing.name}.powerfs-store"


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise _err(errno.EINVAL, repr(name))
    if len(name.encode(errors="surrogateescape")) > 255:
        raise _err(errno.ENAMETOOLONG, name[:40])


def _try_chown(target, uid: int, gid: int) -> None:
    try:
        if isinstance(target, int):
            os.fchown(target, uid, gid)
        else:
            os.chown(target, uid, gid)
    except PermissionError:
        pass  # not root: files keep the daemon's owner on disk (the mount still reports uid/gid)
