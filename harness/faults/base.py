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
from harness.spec import FaultSpec

if TYPE_CHECKING:  # the topology imports nothing of the faults; this is for the type hints only
    from harness.topology.base import Topology


@dataclass(frozen=True)
class NoOptions:
    """A fault without parameters."""


class FaultSession(AbstractContextManager):
    """One trial's instance of a fault; leaving the context undoes whatever it set up."""

    #: the directory the target server must use as its data directory
    server_dir: Path

    @abstractmethod
    def inject(self, topology: "Topology", took_effect: Callable[[], None]) -> Columns | None:
        """Break the target; returns the fault's facts for trials.csv (its `columns`), or None.

        Call `took_effect()` the moment the target stops acknowledging (its process gone): the
        load switches to new sessions only then, so every write the old server acknowledged
        until that moment is checked. (If a fault never calls it, the trial does on return.)"""

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
    leaves_target_down: ClassVar[bool] = True  # the target is not running afterwards (the trial restarts it)
    needs_failover: ClassVar[bool] = False  # only on a topology that can promote another server
    Options: ClassVar[type] = NoOptions
    columns: ClassVar[type[Columns] | None] = None

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

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
        return FaultSpec(self.name, {f.name: getattr(self.options, f.name) for f in fields(self.options)})

    def check(self) -> None:
        """Raise HarnessError if this fault cannot run here (checked before any trial)."""

    @abstractmethod
    def session(self, data_dir: Path, seed: int) -> FaultSession:
        """Set up this fault for one trial whose target server's data lives in `data_dir`."""

    @classmethod
    def caveat(cls, values: dict[str, list[str]], measured: list) -> str | None:
        """A caveat for the report, given the distinct values its columns took in the run and
        every fault the run measured (their classes)."""
        return None
