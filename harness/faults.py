"""What breaks the server. A fault is set up per trial (it may own the data directory) and
injected once, under load; afterwards the server is not running and the trial restarts it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
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

    def check(self) -> None:
        """Raise HarnessError if this fault cannot run here (checked before any trial)."""


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


def parse_writeback(text: str) -> float | None:
    """--fs-writeback: seconds, "off", or "kernel" (this machine's vm.dirty_expire_centisecs)."""
    from harness.powerfs.state import default_writeback_s  # noqa: PLC0415 - pure module, no FUSE

    if text == "off":
        return None
    if text == "kernel":
        return default_writeback_s()
    try:
        seconds = float(text)
    except ValueError:
        raise HarnessError(f"--fs-writeback {text!r}: give seconds, 'off' or 'kernel'") from None
    if seconds <= 0:
        raise HarnessError("--fs-writeback must be positive (or 'off')")
    return seconds


@dataclass(frozen=True)
class FaultOptions:
    """Settings the power-loss faults take (ignored by kill9)."""

    fs_metadata: str = "lenient"  # or "strict": a name is durable once its directory is fsynced
    fs_writeback_s: float | None = field(default_factory=lambda: parse_writeback("kernel"))  # None: off


def available_faults(options: FaultOptions) -> dict[str, Fault]:
    faults: list[Fault] = [Kill9()]
    try:
        from harness.powerloss import power_loss_faults  # noqa: PLC0415 - needs FUSE only when used
    except ImportError:
        pass
    else:
        faults += power_loss_faults(options)
    return {fault.name: fault for fault in faults}


DEFAULT_FAULTS = ["kill9", "power-loss"]


def default_faults() -> tuple[list[str], str]:
    """The default fault list, and a note when power loss cannot run here (no FUSE)."""
    try:
        from harness.powerfs import fuse_available  # noqa: PLC0415
        problem = fuse_available()
    except ImportError as exc:
        problem = f"the power-loss filesystem cannot load ({exc})"
    if problem:
        return ["kill9"], f"power-loss is not run by default here: {problem}; running kill9 only"
    return list(DEFAULT_FAULTS), ""


def select_faults(names: list[str] | None, options: FaultOptions | None = None) -> list[Fault]:
    faults = available_faults(options or FaultOptions())
    names = names or default_faults()[0]
    unknown = [name for name in names if name not in faults]
    if unknown:
        raise HarnessError(f"unknown fault {', '.join(map(repr, unknown))}: available are {', '.join(faults)}")
    return [faults[name] for name in dict.fromkeys(names)]
