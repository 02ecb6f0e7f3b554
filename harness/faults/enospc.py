"""enospc: from a random moment under load the filesystem is full (a byte quota: the files may
grow by `free_bytes` more, then writes are cut short and refused with ENOSPC); the space comes
back when the fault is lifted (its `for_s` window, or the end of the trial before any restart),
as when an operator frees space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.faults.disk import DiskFault, DiskOptions


@dataclass(frozen=True)
class EnospcOptions(DiskOptions):
    free_bytes: int = 0  # bytes the files may still grow by once the disk is "full"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.free_bytes < 0:
            raise ValueError(f"free_bytes {self.free_bytes} must be >= 0")


class Enospc(DiskFault):
    name = "enospc"
    label = "disk full"
    phrase = "a full disk (fault `enospc`)"
    description = ("`enospc`: from the fault on, the server's data files may grow by only `free_bytes` more bytes "
                   "(statfs says so too); a write beyond that is cut short, then refused with ENOSPC. The space "
                   "comes back when the fault is lifted, before any restart.")
    meaning = "a volume that filled up (logs, another tenant, a forgotten dump) until an operator freed space"
    order = 46
    Options = EnospcOptions

    def settings(self) -> dict[str, Any]:
        return {"free_bytes": self.options.free_bytes}

    def own_facts(self) -> dict[str, Any]:
        return {"free_bytes": float(self.options.free_bytes)}
