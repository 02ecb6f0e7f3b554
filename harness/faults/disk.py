"""What the disk faults share: a powerfs mount set up for them, the options every one takes, the
trials.csv columns they fill, and the session that sets a fault at the trial's moment and lifts it.

The mount differs from the power-loss one in two settings, both because of what the kernel does:
* no kernel writeback cache: with it, a program's write() lands in the page cache and the
  daemon sees the kernel's flush later, so an EIO or ENOSPC would never reach the write();
* libfuse's multithreaded loop: a stalled fsync waits in one daemon thread while the others
  serve the rest (on one thread every call would wait with it).
Both cost speed (README, "powerfs"): compare a disk fault's speeds with the same config under
the other disk faults, not with kill -9 on the plain disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import HarnessError
from harness.faults.base import Facts, Fault, FaultSession
from harness.powerfs import PowerFS, fuse_available
from harness.powerfs.state import default_writeback_s
from harness.record import NAN, Columns

COUNTERS = ("stalled_fsyncs", "eio_writes", "eio_fsyncs", "enospc_writes", "short_writes", "fsyncs")


@dataclass(frozen=True)
class DiskOptions:
    """What every disk fault takes."""

    for_s: float = 0.0  # the fault lifts itself after this many seconds (0: it lasts to the end of the trial)
    files: str = "*"  # which files it strikes: a glob on the path in the data directory ("appendonlydir/*")
    watch_s: float = 3.0  # the load goes on at least this long after the fault while the server runs

    def __post_init__(self) -> None:
        if self.for_s < 0:
            raise ValueError(f"for_s {self.for_s:g} must be >= 0 (0: until the end of the trial)")
        if self.watch_s < 0:
            raise ValueError(f"watch_s {self.watch_s:g} must be >= 0")
        if not self.files:
            raise ValueError("files must be a glob such as '*' or 'appendonlydir/*'")


@dataclass(frozen=True)
class DiskFaultFacts(Columns):
    """A disk fault's parameters and what powerfs counted while it was set."""

    labels: ClassVar[dict[str, str]] = {"stalled_fsyncs": "Stalled fsyncs", "eio_writes": "EIO writes",
                                        "eio_fsyncs": "EIO fsyncs", "enospc_writes": "ENOSPC writes"}

    disk_fault: str = ""  # which: slow-fsync, eio-write, eio-fsync, enospc
    disk_files: str = ""
    disk_for_s: float = NAN  # 0: until the end of the trial
    stall_s: float = NAN  # slow-fsync: how long each fsync blocked
    eio_mode: str = ""  # eio-*: once or sticky
    free_bytes: float = NAN  # enospc: how many bytes the files could still grow by
    stalled_fsyncs: int = 0  # fsyncs that waited in a stall
    eio_writes: int = 0  # write() calls that got EIO
    eio_fsyncs: int = 0  # fsync() calls that got EIO
    enospc_writes: int = 0  # write() calls refused with ENOSPC
    short_writes: int = 0  # write() calls cut short at the quota
    disk_fsyncs: int = 0  # fsyncs that succeeded while the fault was set
    disk_last_fsync_ns: int = 0  # the last file fsync that succeeded before the fault was lifted (or the power cut)


def disk_fault_mount(data_dir: Path) -> tuple[Path, PowerFS]:
    """The target's directory on powerfs, set up for disk faults (see the module docstring)."""
    backing, mountpoint = data_dir / "durable", data_dir / "mnt"
    backing.mkdir(parents=True, exist_ok=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    return mountpoint, PowerFS(backing, mountpoint, metadata="lenient", writeback_s=default_writeback_s(),
                               kernel_cache=False, multithreaded=True)


def prepare_for_disk_faults(fs: PowerFS) -> None:
    """Another fault's mount (a power cut's), set up before it mounts so disk faults work on it."""
    fs.kernel_cache = False
    fs.multithreaded = True


class DiskFaultSession(FaultSession):
    """Sets the fault's powerfs settings when injected; lifts them in finish()."""

    def __init__(self, fault: "DiskFault", data_dir: Path | None = None, fs: PowerFS | None = None,
                 server_dir: Path | None = None) -> None:
        self.fault = fault
        self.owns_mount = fs is None
        if fs is None:
            assert data_dir is not None
            server_dir, fs = disk_fault_mount(data_dir)
        self.fs = fs
        self.server_dir = server_dir
        self.before: dict | None = None
        self.seen: dict | None = None
        self.facts: DiskFaultFacts | None = None

    def __enter__(self) -> "DiskFaultSession":
        if self.owns_mount:
            self.fs.mount()
        return self

    def inject(self, topology, took_effect) -> Facts:  # the server goes on: nothing to take effect
        self.before = self.fs.stats()
        settings = self.fault.settings()
        if self.fault.options.for_s > 0:
            settings["for_s"] = self.fault.options.for_s
        self.fs.set_faults(files=self.fault.options.files, **settings)
        return None

    def observe(self) -> None:
        if self.seen is None and self.before is not None and self.fs.pid is not None:
            self.seen = self.fs.stats()

    def finish(self) -> Facts:
        if self.facts is None and self.before is not None:
            self.observe()
            if self.fs.pid is not None:
                self.fs.clear_faults()
            self.facts = self.fault.facts(self.before, self.seen or self.before)
        return self.facts

    def __exit__(self, *exc) -> None:
        if self.owns_mount:
            self.fs.close()


class DiskFault(Fault):
    """A fault of the disk under a running server (subclasses: slow-fsync, eio-*, enospc)."""

    stops_server = False
    disk = "faulty"
    Options: ClassVar[type] = DiskOptions
    columns = DiskFaultFacts

    def settings(self) -> dict[str, Any]:
        """powerfs's fault settings for this fault (harness/powerfs/faults.py)."""
        raise NotImplementedError

    def own_facts(self) -> dict[str, Any]:
        """This fault's parameters among DiskFaultFacts's columns."""
        return {}

    def facts(self, before: dict, seen: dict) -> DiskFaultFacts:
        counted = {name: int(seen.get(name, 0)) - int(before.get(name, 0)) for name in COUNTERS}
        return DiskFaultFacts(disk_fault=self.name, disk_files=self.options.files, disk_for_s=self.options.for_s,
                              disk_fsyncs=counted.pop("fsyncs"), disk_last_fsync_ns=int(seen.get("last_fsync_ns", 0)),
                              **counted, **self.own_facts())

    def check(self) -> None:
        problem = fuse_available()
        if problem:
            raise HarnessError(f"fault {self.name} needs FUSE (it acts through the powerfs filesystem): {problem}")

    def watch_s(self) -> float:
        return self.options.watch_s

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return DiskFaultSession(self, data_dir=data_dir)

    def attach(self, owner: FaultSession, seed: int) -> FaultSession:
        fs = getattr(owner, "fs", None)
        if fs is None:
            raise HarnessError(f"fault {self.name} needs the data directory on powerfs")
        return DiskFaultSession(self, fs=fs, server_dir=owner.server_dir)

