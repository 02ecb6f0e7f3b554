"""eio-write, eio-fsync: from a random moment under load, write() or fsync() on the data files
returns EIO, once (the next such call only) or sticky (every one, until the fault is lifted at the
end of the trial or its `for_s` window). A failed call changes nothing on the disk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.faults.disk import DiskFault, DiskOptions
from harness.powerfs.faults import MODES


@dataclass(frozen=True)
class EioOptions(DiskOptions):
    mode: str = "sticky"  # once: the next call fails; sticky: every call fails while the fault lasts

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r}: choose {' or '.join(MODES)}")


class _Eio(DiskFault):
    Options = EioOptions
    call = ""

    def settings(self) -> dict[str, Any]:
        return {f"eio_{self.call}": self.options.mode}

    def own_facts(self) -> dict[str, Any]:
        return {"eio_mode": self.options.mode}


class EioWrite(_Eio):
    name = "eio-write"
    label = "write EIO"
    phrase = "a disk refusing writes (fault `eio-write`: write() returns EIO)"
    description = ("`eio-write`: from the fault on, write() on the server's data files returns EIO, once or every "
                   "time (`mode`), and writes nothing.")
    meaning = "a disk that fails writes (a bad sector, a lost volume)"
    order = 42
    call = "write"


class EioFsync(_Eio):
    name = "eio-fsync"
    label = "fsync EIO"
    phrase = "a disk failing its flushes (fault `eio-fsync`: fsync() returns EIO)"
    description = ("`eio-fsync`: from the fault on, fsync and fdatasync on the server's data files return EIO, once "
                   "or every time (`mode`), and make nothing durable.")
    meaning = "a disk whose flushes fail (what Linux reports when writeback to the device failed)"
    order = 44
    call = "fsync"
