"""What a failing disk does to each call: the rules powerfs applies while a disk fault is set.

Pure decisions, no I/O and no locks: `PowerState` asks them before it acts, the FUSE layer
asks how long an fsync must stall. Set through the daemon's control protocol (`fault` /
`clear`), from a random moment of a trial.

    stall_fsync_s  every fsync / fdatasync of a file blocks this long before it runs (the FUSE
                   layer sleeps outside the state lock, on libfuse's multithreaded loop, so
                   other calls are served meanwhile; see fuse_ops.PowerOps.fsync for what the
                   kernel still serialises)
    eio_write      write() returns EIO: "once" (the next matching write only) or "sticky"
    eio_fsync      fsync() returns EIO, the same way; a failed fsync makes nothing durable
    free_bytes     a byte quota: from now on the matching files may grow by this many bytes in all;
                   a write that would grow them further is cut short at the limit (a short
                   write, as a real filesystem does) or, with no room left, fails ENOSPC;
                   shrinking a file (truncate) gives its bytes back. statfs reports the quota.
    files          which files the rules apply to: a glob on the path inside the mount
                   (`*` matches every file, `appendonlydir/*.aof` only the AOF)
    until          a clock time after which every rule is off by itself (a fault window)

A failed call changes nothing: no byte written, nothing made durable.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from dataclasses import asdict, dataclass

MODES = ("once", "sticky")
SETTINGS = ("stall_fsync_s", "eio_write", "eio_fsync", "free_bytes", "files", "for_s")


def _err(code: int, what: str) -> OSError:
    return OSError(code, f"{os.strerror(code)}: {what} (powerfs disk fault)")


@dataclass
class DiskFaults:
    stall_fsync_s: float = 0.0
    eio_write: str = ""
    eio_fsync: str = ""
    free_bytes: int | None = None
    files: str = "*"
    until: float | None = None

    @classmethod
    def parse(cls, settings: dict, now: float) -> "DiskFaults":
        """The faults a control request asks for; a bad setting is a ValueError naming it."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown disk fault setting {', '.join(map(repr, unknown))} "
                             f"(known: {', '.join(SETTINGS)})")
        stall = float(settings.get("stall_fsync_s") or 0.0)
        if stall < 0:
            raise ValueError(f"stall_fsync_s {stall:g} must be >= 0")
        modes = {}
        for key in ("eio_write", "eio_fsync"):
            mode = str(settings.get(key) or "")
            if mode and mode not in MODES:
                raise ValueError(f"{key} {mode!r}: choose {' or '.join(MODES)}")
            modes[key] = mode
        free = settings.get("free_bytes")
        if free is not None and int(free) < 0:
            raise ValueError(f"free_bytes {free} must be >= 0")
        for_s = settings.get("for_s")
        if for_s is not None and float(for_s) <= 0:
            raise ValueError(f"for_s {for_s} must be positive seconds")
        return cls(stall_fsync_s=stall, free_bytes=None if free is None else int(free),
                   files=str(settings.get("files") or "*"),
                   until=None if for_s is None else now + float(for_s), **modes)

    # -- state ------------------------------------------------------------------------------
    @property
    def any(self) -> bool:
        return bool(self.stall_fsync_s or self.eio_write or self.eio_fsync or self.free_bytes is not None)

    def active(self, now: float) -> bool:
        return self.any and (self.until is None or now < self.until)

    def applies(self, path: str, now: float) -> bool:
        return self.active(now) and (self.files == "*" or fnmatch.fnmatchcase(path, self.files))

    def quota(self, now: float) -> int | None:
        """Bytes the files may still grow by (None: no quota now)."""
        return self.free_bytes if self.active(now) else None

    def describe(self) -> dict:
        return asdict(self)

    # -- decisions (each may consume a "once" fault) ----------------------------------------
    def allowed_write(self, path: str, offset: int, size: int, length: int, now: float) -> int:
        """How many of `length` bytes at `offset` (the file is `size` long) may be written, taken
        from the quota; raises OSError(EIO / ENOSPC) when none may."""
        if not self.applies(path, now):
            return length
        if self.eio_write:
            if self.eio_write == "once":
                self.eio_write = ""
            raise _err(errno.EIO, f"write {path}")
        if self.free_bytes is None:
            return length
        allowed = length
        if max(0, offset + length - size) > self.free_bytes:
            allowed = size + self.free_bytes - offset  # up to the end the quota allows
            if allowed <= 0:
                raise _err(errno.ENOSPC, f"write {path}")
        self.free_bytes -= max(0, offset + allowed - size)
        return allowed

    def resized(self, path: str, old_size: int, new_size: int, now: float) -> None:
        """A truncation of a file the quota covers: a shrink gives bytes back, a growth takes them."""
        if self.free_bytes is not None and self.applies(path, now):
            self.free_bytes = max(0, self.free_bytes + old_size - new_size)

    def check_fsync(self, path: str, now: float) -> None:
        if self.applies(path, now) and self.eio_fsync:
            if self.eio_fsync == "once":
                self.eio_fsync = ""
            raise _err(errno.EIO, f"fsync {path}")

    def stall_for(self, path: str, now: float) -> float:
        return self.stall_fsync_s if self.applies(path, now) else 0.0
