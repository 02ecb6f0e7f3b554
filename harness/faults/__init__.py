"""The faults, found by name: every module in this package that defines a `Fault` subclass.

Adding a fault is one new file here (see README, "Architecture"); `register` adds one from
elsewhere (a test module). `info(name)` answers for the report even when a stored run names a
fault this harness no longer has.
"""

from __future__ import annotations

from typing import Any

from harness import plugins
from harness.errors import HarnessError
from harness.faults.base import Fault, FaultSession, NoOptions
from harness.record import Columns
from harness.spec import FaultSpec

__all__ = ["Fault", "FaultSession", "NoOptions", "register", "get", "names", "build", "select", "info",
           "column_groups", "default_names", "order", "unregister", "NO_FAULT"]

DEFAULT_FAULTS = ["kill9", "power-loss"]
NO_FAULT = "none"  # a trial in which nothing is broken (harness.trial.CrashTrial.load_without_fault)
_REGISTRY = plugins.Registry(__name__, __path__, Fault, "name", "fault", order=lambda cls: (cls.order, cls.name))
register, unregister, names, get = _REGISTRY.register, _REGISTRY.unregister, _REGISTRY.names, _REGISTRY.get


def build(spec: FaultSpec) -> Fault:
    return get(spec.name).from_options(dict(spec.options))


def select(fault_names: list[str], settings: dict[str, Any] | None = None) -> list[Fault]:
    """The named faults, each given the settings it takes (`settings` may hold options of
    several faults: --fs-metadata is a power-loss option, meaningless to kill9)."""
    known = _REGISTRY.all()
    unknown = [name for name in fault_names if name not in known]
    if unknown:
        raise HarnessError(f"unknown fault {', '.join(map(repr, unknown))}: available are {', '.join(names())}")
    chosen = []
    for name in dict.fromkeys(fault_names):
        cls = known[name]
        takes = {f for f in getattr(cls.Options, "__dataclass_fields__", {})}
        chosen.append(cls.from_options({k: v for k, v in (settings or {}).items() if k in takes}))
    return chosen


def default_names() -> tuple[list[str], str]:
    """The default fault list, and a note when one of them cannot run here (power loss without FUSE)."""
    runnable, skipped = [], []
    for name in DEFAULT_FAULTS:
        try:
            get(name)().check()
            runnable.append(name)
        except HarnessError as exc:
            skipped.append(f"{name} is not run by default here: {exc}")
    note = "; ".join(skipped) + (f"; running {', '.join(runnable)} only" if skipped else "")
    return runnable, note


class _Unknown:
    """What the report says of a fault it has no class for (a stored run from another version)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.label = name
        self.phrase = f"fault `{name}`"
        self.description = f"`{name}`."
        self.cuts_power = False
        self.order = 1000
        self.columns = None

    def caveat(self, values: dict[str, list[str]], measured: list) -> str | None:
        return None


class _NoFault(_Unknown):
    def __init__(self) -> None:
        super().__init__(NO_FAULT)
        self.label = "no fault"
        self.phrase = "no fault (the load ran to its end)"
        self.description = "`none`: nothing is broken; the load runs for its whole duration."
        self.order = 0


def info(name: str) -> type[Fault] | _Unknown:
    if str(name) == NO_FAULT:
        return _NoFault()
    return _REGISTRY.all().get(str(name)) or _Unknown(str(name))


def order(fault_names) -> list[str]:
    """Distinct faults, gentlest first (each fault's `order`), unknown ones after, as first seen."""
    distinct = list(dict.fromkeys(str(f) for f in fault_names))
    return sorted(distinct, key=lambda f: (info(f).order, distinct.index(f)))


def column_groups() -> list[type[Columns]]:
    return list(dict.fromkeys(cls.columns for cls in _REGISTRY.all().values() if cls.columns is not None))
