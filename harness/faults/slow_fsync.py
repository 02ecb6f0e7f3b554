"""slow-fsync: from a random moment under load, every fsync / fdatasync of the data files blocks
for `stall_s` seconds, as on a disk that has become slow to flush. Other calls go on meanwhile
(powerfs's multithreaded daemon), except a write() to the very file being fsynced, which the
kernel's FUSE driver holds back until the fsync returns (see README, "Disk faults")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.faults.disk import DiskFault, DiskOptions

# Redis's everysec postpones its AOF write for up to 2 s while a background fsync is still running
# (flushAppendOnlyFile, src/aof.c); a stall longer than that shows what happens after the 2 s.
DEFAULT_STALL_S = 4.0


@dataclass(frozen=True)
class SlowFsyncOptions(DiskOptions):
    stall_s: float = DEFAULT_STALL_S  # how long each fsync blocks

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.stall_s > 0:
            raise ValueError(f"stall_s {self.stall_s:g} must be positive seconds")


class SlowFsync(DiskFault):
    name = "slow-fsync"
    label = "slow fsync"
    phrase = "a slow disk: every fsync stalled (fault `slow-fsync`)"
    description = ("`slow-fsync`: from the fault on, every fsync and fdatasync of the server's data files blocks "
                   "for `stall_s` seconds before it runs (powerfs holds it; other calls go on, except a write to the "
                   "file being fsynced, which Linux's FUSE driver holds until that fsync returns).")
    meaning = "a disk that has become slow to flush (a busy or failing volume, a throttled cloud disk)"
    order = 40
    Options = SlowFsyncOptions

    def settings(self) -> dict[str, Any]:
        return {"stall_fsync_s": self.options.stall_s}

    def own_facts(self) -> dict[str, Any]:
        return {"stall_s": self.options.stall_s}

    def watch_s(self) -> float:
        """At least two stalls' worth of load: the first stall, Redis's 2 s postponement, and what follows."""
        return max(self.options.watch_s, 2 * self.options.stall_s)
