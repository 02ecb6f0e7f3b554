"""The power-loss faults: the server's data lives on powerfs; the fault kills the server, cuts
the power on the filesystem (everything never fsynced is gone, or torn), remounts what
survived, and the trial restarts the server on it."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.errors import HarnessError
from harness.faults.base import Fault, FaultSession
from harness.powerfs import PowerFS, fuse_available
from harness.powerfs.state import METADATA_MODES, parse_writeback
from harness.record import Columns


@dataclass(frozen=True)
class PowerLossOptions:
    fs_metadata: str = "lenient"  # or "strict": a name is durable once its directory is fsynced
    fs_writeback: str = "kernel"  # seconds, "off", or "kernel" (vm.dirty_expire_centisecs where it runs)

    def __post_init__(self) -> None:
        if self.fs_metadata not in METADATA_MODES:
            raise ValueError(f"fs_metadata {self.fs_metadata!r}: choose {' or '.join(METADATA_MODES)}")
        parse_writeback(self.fs_writeback)

    @property
    def writeback_s(self) -> float | None:
        return parse_writeback(self.fs_writeback)


@dataclass(frozen=True)
class PowerLossFacts(Columns):
    """The simulated filesystem's settings and what the cut took."""

    labels: ClassVar[dict[str, str]] = {"unsynced_bytes_at_cut": "Unsynced bytes at cut", "fs_metadata": "FS metadata",
                                        "fs_writeback": "FS writeback (s)"}

    fs_metadata: str = ""
    fs_writeback: str = ""  # seconds, or "off"
    unsynced_bytes_at_cut: int = 0  # written but not fsynced when the power went
    torn_bytes_kept: int = 0  # of those, what a torn cut let survive
    metadata_dropped: int = 0  # strict: namespace changes whose directory was never fsynced
    metadata_dropped_detail: str = ""  # the first few of them
    last_fsync_ns: int = 0  # the last file fsync that succeeded before the cut (wall clock)


class _PowerLossSession(FaultSession):
    def __init__(self, data_dir: Path, seed: int, torn: bool, options: PowerLossOptions) -> None:
        self.seed = seed
        self.torn = torn
        self.options = options
        self.backing = data_dir / "durable"  # exactly the durable state, after a cut
        self.server_dir = data_dir / "mnt"  # what the server sees (bind-mounted at /data in Docker)
        self.backing.mkdir(parents=True, exist_ok=True)
        self.server_dir.mkdir(parents=True, exist_ok=True)
        self.fs = PowerFS(self.backing, self.server_dir, metadata=options.fs_metadata,
                          writeback_s=options.writeback_s)

    def __enter__(self) -> "_PowerLossSession":
        self.fs.mount()
        return self

    def inject(self, topology, took_effect) -> PowerLossFacts:
        # SIGKILL first, then the cut, then wait for the process to be gone: a thread stuck in a
        # stalled fsync (fault slow-fsync before this one) cannot die before its FUSE call ends,
        # and the cut must not wait for the stall (that fsync never completed).
        topology.primary.signal(signal.SIGKILL)
        counters = self.fs.cut(torn=self.torn, seed=self.seed)
        topology.primary.kill()
        took_effect()
        self.fs.remount()
        writeback = self.options.writeback_s
        return PowerLossFacts(
            fs_metadata=self.options.fs_metadata, fs_writeback="off" if writeback is None else f"{writeback:g}",
            unsynced_bytes_at_cut=counters.get("unsynced_bytes_at_cut", 0),
            torn_bytes_kept=counters.get("torn_bytes_kept", 0),
            metadata_dropped=counters.get("pending_metadata_ops_dropped", 0),
            metadata_dropped_detail="; ".join(counters.get("dropped_metadata", [])[:5]),
            last_fsync_ns=int(counters.get("last_fsync_ns", 0)),
        )

    def __exit__(self, *exc) -> None:
        self.fs.close()


METADATA_MEANING = {
    "strict": "a file's name (a new file, a rename) survived a cut only once its directory was fsynced, as "
              "POSIX promises and no more",
    "lenient": "names (new files, renames) were durable at once; only file contents waited for an fsync",
}


def _writeback(value: str) -> str:
    if value.lower() in ("off", "none"):
        return "`off`: nothing became durable without an fsync"
    return (f"`{value}` s: data left unsynced that long was written back, as the kernel's flusher does, so a "
            f"write was at risk until it was fsynced or {value} s old")


class PowerLoss(Fault):
    name = "power-loss"
    label = "power cut"
    phrase = "a power loss (fault `power-loss`)"
    description = ("`power-loss`: `SIGKILL` the server, then cut the power on its filesystem (a FUSE filesystem "
                   "that simulates a disk): everything not fsynced is gone. Remount it and restart the server on "
                   "what survived.")
    cuts_power = True
    disk = "power"
    meaning = "a power failure of the machine (or a VM or container host that dies with its page cache)"
    order = 20
    Options = PowerLossOptions
    columns = PowerLossFacts
    torn = False

    def check(self) -> None:
        problem = fuse_available()
        if problem:
            raise HarnessError(f"fault {self.name} needs FUSE: {problem}")

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _PowerLossSession(data_dir, seed, self.torn, self.options)

    @classmethod
    def caveat(cls, values: dict[str, list[str]], measured: list) -> str:
        """What the power-loss faults simulated, with the filesystem settings the trials recorded."""
        modes, writeback = values.get("fs_metadata", []), values.get("fs_writeback", [])
        text = ("The power loss was simulated, not done to a real machine: the server's data directory was a FUSE "
                "filesystem that holds every write not yet fsynced in memory and drops it when the power is cut "
                "(with torn writes, a random page-aligned part of it survives), then is remounted for the restart.")
        if modes:
            text += " Metadata mode " + "; ".join(
                f"`{m}`" + (f": {METADATA_MEANING[m]}" if m in METADATA_MEANING else "") for m in modes) + "."
        else:
            text += " The filesystem's metadata mode was not recorded."
        if writeback:
            text += " Writeback " + "; ".join(_writeback(w) for w in writeback) + "."
        else:
            text += " Its writeback setting was not recorded."
        text += (" The simulation assumes the disk honours fsync; a real disk whose volatile write cache "
                 "acknowledges a flush early can lose fsynced writes too, so real hardware can lose more than "
                 "measured here.")
        text += (" Under the power-loss faults every write goes through that FUSE filesystem, which costs speed "
                 "(most for configs that fsync often, such as `appendfsync always`): compare speeds under kill -9, "
                 "where the server writes to the plain disk.")
        return text


class TornPowerLoss(PowerLoss):
    name = "torn-power-loss"
    label = "torn power cut"
    phrase = "a power loss with torn writes (fault `torn-power-loss`)"
    description = ("`torn-power-loss`: as `power-loss`, but a random page-aligned part of the unsynced writes "
                   "survives, as a partial writeback would leave it: a file can end in a torn tail.")
    order = 30
    torn = True
