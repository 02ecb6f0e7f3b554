"""Facts about where a run happened, for environment.json and the report."""

from __future__ import annotations

import os
import platform
import resource
import shlex
import sys
from pathlib import Path

from harness import __version__


def filesystem_of(path: Path) -> str:
    """The filesystem type of the mount holding `path` (longest mount-point prefix)."""
    target = str(Path(path).resolve())
    best, best_type = "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                    best, best_type = point, fields[2]
    except OSError:
        pass
    return f"{best_type} ({best})" if best else best_type


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith("__main__.py"):
        argv[0] = "python -m harness"
        return argv[0] + (" " + shlex.join(argv[1:]) if len(argv) > 1 else "")
    return shlex.join(argv)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it ("" where /proc/cpuinfo has none, e.g. some ARM boards)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model"):
                    return value.strip()
    except OSError:
        pass
    return ""


def describe_machine(data_root: Path) -> dict:
    return {
        "harness_version": __version__,
        "command_line": command_line(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "filesystem": filesystem_of(data_root),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
