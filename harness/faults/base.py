"""What breaks the server, and what the report needs to speak of it.

A fault is set up per trial (it may own a server's data directory: the power-loss faults
mount a filesystem there) and injected once, under load, on a role of the trial's topology
(`target_role`: the primary, or a replica). Afterwards that server is not running and the trial
restarts it, except for faults that leave it running (a pause, a partition), which only a
topology with a failover (scenario `failover`) runs.

Each fault class carries its own words (a label for charts, a phrase for sentences, a
description for the method), whether it cuts the power (the page cache is lost, speeds go
through the simulated filesystem), where it sorts among faults (gentlest first), the
parameters it takes (`Options`, a dataclass) and the trials.csv columns it adds
(`columns`, a `Columns` dataclass), so the report needs no edit for a new one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from harness.errors import HarnessError
from harness.record import Columns
from harness.spec import ConfigSpec, FaultSpec

if TYPE_CHECKING:  # the topology imports nothing of the faults; this is for the type hints only
    from harness.topology.base import Topology


@dataclass(frozen=True)
class NoOptions:
    """A fault without parameters."""


Facts = Columns | tuple[Columns, ...] | None  # what a fault returns for trials.csv


def as_tuple(facts: Facts) -> tuple[Columns, ...]:
    """A fault's facts as a tuple of column groups (it may return one, several or none)."""
    if facts is None:
        return ()
    return facts if isinstance(facts, tuple) else (facts,)


def _nothing(*args) -> None:
    return None


class FaultSession(AbstractContextManager):
    """One trial's instance of a fault; leaving the context undoes whatever it set up.

    A fault that stops the server (`Fault.stops_server`) has done so when `inject` returns. A
    fault that does not (a disk fault) goes on acting while the trial keeps the load running;
    the trial then calls `finish()`, which lifts it (space back, errors cleared, stalls
    released) and says what it did. A sequence calls `before_crash(how)` (set by the trial) just
    before a part of it stops the server ("fault"), or when it saw the server stop on its own
    ("exited"), so the trial knows that moment."""

    #: the directory the target server must use as its data directory
    server_dir: Path

    def __init__(self, data_dir: Path) -> None:
        self.server_dir = data_dir
    #: set by the trial: called right before this session stops the server, when it is not at once
    before_crash = staticmethod(_nothing)  # before_crash(how: "fault" | "exited")

    @abstractmethod
    def inject(self, topology: "Topology", took_effect: Callable[[], None]) -> Facts:
        """Break the target; returns the fault's facts for trials.csv (its `columns`), or None.

        A fault that stops the server calls `took_effect()` the moment the target stops
        acknowledging (its process gone): the load switches to new sessions only then, so every
        write the old server acknowledged until that moment is checked. (If it never calls it,
        the trial does when it sees the server stopped.)"""

    def observe(self) -> None:
        """Read what the fault did so far while it can still be read (before a later part of a
        sequence cuts the power under it). Idempotent."""

    def finish(self) -> Facts:
        """Lift whatever the fault still does and return what it did; called once the fault's
        time is over, before any restart, and again (harmlessly) while cleaning up."""
        return None

    def __exit__(self, *exc) -> None:
        return None


class Fault(ABC):
    name: ClassVar[str]
    label: ClassVar[str]  # a few words, for chart annotations: "kill -9"
    phrase: ClassVar[str]  # inside a sentence: "a process crash (kill -9)"
    description: ClassVar[str]  # how it is done, for the report's method
    cuts_power: ClassVar[bool] = False  # the page cache is lost: only fsynced bytes survive
    order: ClassVar[int] = 50  # the report lists faults gentlest first
    target_role: ClassVar[str] = "primary"  # the role it breaks (its data directory is the fault's to own)
    needs_failover: ClassVar[bool] = False  # only on a topology that can promote another server
    Options: ClassVar[type] = NoOptions
    columns: ClassVar[type[Columns] | None] = None
    stops_server: ClassVar[bool] = True  # the server is down when inject returns (else: a disk fault)
    # What the target's data directory is for this fault: "plain" (a directory), "faulty" (powerfs,
    # set up for disk faults) or "power" (powerfs, for a power cut). In a sequence the strongest
    # part owns the directory and the others act on it (`attach`).
    disk: ClassVar[str] = "plain"
    meaning: ClassVar[str] = ""  # for the report: what this fault stands for in a session store's life

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()
        self.key = self.name  # the name in results: with the parameters the user set, "eio-write:mode=once"

    @classmethod
    def from_options(cls, given: dict[str, Any]) -> "Fault":
        """This fault with the parameters given; an unknown or mistyped one is a clear error."""
        known = {f.name for f in fields(cls.Options)}
        unknown = sorted(set(given) - known)
        if unknown:
            takes = ", ".join(sorted(known)) or "no parameters"
            raise HarnessError(f"fault {cls.name}: unknown parameter {', '.join(map(repr, unknown))} "
                               f"(it takes {takes})")
        try:
            typed = msgspec.convert(given, type=cls.Options, strict=False)  # "0.5" -> 0.5, by the type hints
            # Built again through __init__: convert leaves defaulted fields on the class, not the instance.
            return cls(cls.Options(**{f.name: getattr(typed, f.name) for f in fields(cls.Options)}))
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise HarnessError(f"fault {cls.name}: {exc}") from None

    def spec(self) -> FaultSpec:
        options = {f.name: getattr(self.options, f.name) for f in fields(self.options)}
        return FaultSpec(self.name, options, key=self.key if self.key != self.name else "")

    def check(self) -> None:
        """Raise HarnessError if this fault cannot run here (checked before any trial)."""

    def check_with(self, config: ConfigSpec, workload: Any) -> None:
        """Raise HarnessError if this fault cannot run on this config and load (before any trial)."""

    @abstractmethod
    def session(self, data_dir: Path, seed: int) -> FaultSession:
        """Set up this fault for one trial whose target server's data lives in `data_dir`."""

    def attach(self, owner: FaultSession, seed: int) -> FaultSession:
        """This fault acting on another fault's set-up (a sequence's owner of the directory)."""
        return self.session(owner.server_dir, seed)

    def watch_s(self) -> float:
        """Seconds the load goes on after the injection when the server keeps running."""
        return 0.0

    def groups(self) -> tuple[type[Columns], ...]:
        """Every column group this fault fills in trials.csv (a sequence: its own and its parts')."""
        return (self.columns,) if self.columns is not None else ()

    def stops_at_once(self) -> bool:
        """Is the server down the moment this fault is injected? (A sequence stops it later, and says when.)"""
        return self.stops_server

    @classmethod
    def caveat(cls, values: dict[str, list[str]], measured: list) -> str | None:
        """A caveat for the report, given the distinct values its columns took in the run and
        every fault the run measured (their classes)."""
        return None
