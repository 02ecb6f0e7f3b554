"""What breaks the server. A fault is set up per trial (it may own the data directory) and
injected once, under load; afterwards the server is not running and the trial restarts it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.server.base import Server


class FaultSession(AbstractContextManager):
    """One trial's instance of a fault; leaving the context undoes whatever it set up."""

    #: the directory the server must use as its data directory
    server_dir: Path

    @abstractmethod
    def inject(self, server: Server) -> dict:
        """Break the server; returns facts for trials.csv (e.g. bytes not yet durable)."""

    def __exit__(self, *exc) -> None:
        return None


class Fault(ABC):
    name: str
    description: str

    @abstractmethod
    def session(self, data_dir: Path, seed: int) -> FaultSession:
        """Set up this fault for one trial whose data lives in `data_dir`."""

    def facts(self) -> dict:
        """Settings of this fault for trials.csv (the same for every trial)."""
        return {}


class _KillSession(FaultSession):
    def __init__(self, data_dir: Path) -> None:
        self.server_dir = data_dir

    def inject(self, server: Server) -> dict:
        server.kill()
        return {}


class Kill9(Fault):
    name = "kill9"
    description = ("SIGKILL to the server and its children (a process crash): the operating system "
                   "and its page cache survive, so whatever Redis wrote to a file survives too")

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _KillSession(data_dir)


@dataclass(frozen=True)
class FaultOptions:
    """Settings the power-loss faults take (ignored by kill9)."""

    fs_metadata: str = "lenient"
    fs_writeback_s: float | None = None  # None: the kernel's vm.dirty_expire_centisecs


def available_faults(options: FaultOptions) -> dict[str, Fault]:
    faults: list[Fault] = [Kill9()]
    try:
        from harness.powerloss import power_loss_faults  # noqa: PLC0415 - needs FUSE only when used
    except ImportError:
        pass
    else:
        faults += power_loss_faults(options)
    return {fault.name: fault for fault in faults}


def select_faults(names: list[str] | None, options: FaultOptions | None = None) -> list[Fault]:
    faults = available_faults(options or FaultOptions())
    names = names or ["kill9"]
    unknown = [name for name in names if name not in faults]
    if unknown:
        raise HarnessError(f"unknown fault {', '.join(map(repr, unknown))}: available are {', '.join(faults)}")
    return [faults[name] for name in dict.fromkeys(names)]
