"""The disk's limit: how many fsyncs per second this data directory takes, and how long each.

`appendfsync always` makes one fdatasync per event-loop turn, so with a single client its
rate cannot exceed this; the report shows it next to aof-always.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from harness.environment import filesystem_of

BLOCK = b"\0" * 4096


@dataclass(frozen=True)
class FsyncRate:
    path: str
    filesystem: str
    fsyncs: int
    seconds: float
    fsyncs_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict:
        return asdict(self)


def probe_fsync(directory, seconds: float = 1.0, max_fsyncs: int = 20_000) -> FsyncRate:
    """Append 4 KiB and fdatasync, as an AOF does, for `seconds` (or `max_fsyncs`)."""
    path = os.path.join(directory, ".crash-matrix-fsync-probe")
    latencies = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline and len(latencies) < max_fsyncs:
            os.write(fd, BLOCK)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - began
    finally:
        os.close(fd)
        os.unlink(path)
    ms = np.array(latencies) * 1000
    return FsyncRate(str(directory), filesystem_of(os.path.abspath(directory)), len(latencies), elapsed,
                     len(latencies) / elapsed, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)),
                     float(ms.max()))
