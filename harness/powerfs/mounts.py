"""Is a FUSE filesystem mounted here, and unmounting it (as root, or with fusermount3)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
MNT_DETACH = 2


def is_mounted(mountpoint: str | os.PathLike) -> bool:
    target = os.path.realpath(mountpoint)
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and _unescape(fields[1]) == target and fields[2].startswith("fuse"):
            return True
    return False


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def unmount(mountpoint: str, lazy: bool = False) -> bool:
    """Unmount (umount2 as root, else fusermount3 -u). True if it is no longer mounted."""
    if not is_mounted(mountpoint):
        return True
    if os.geteuid() == 0:
        if _libc.umount2(os.fsencode(mountpoint), MNT_DETACH if lazy else 0) == 0:
            return True
    try:
        subprocess.run(["fusermount3", "-u", *(["-z"] if lazy else []), "-q", mountpoint],
                       capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return not is_mounted(mountpoint)
