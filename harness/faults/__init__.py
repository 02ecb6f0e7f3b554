"""The faults, found by name: every module in this package that defines a `Fault` subclass.

Adding a fault is one new file here (see README, "Architecture"); `register` adds one from
elsewhere (a test module). `info(name)` answers for the report even when a stored run names a
fault this harness no longer has.

A fault as the user writes it (`--faults`, FAULTS=) is a name, a sequence of names joined by `+`
(harness/faults/sequence.py), and optional parameters after a colon:
`slow-fsync+kill9:stall_s=5,delay_s=2`, `eio-write:mode=once`. With parameters, that text is the
fault's name in the results, so two settings of one fault are two rows of the report.
"""

from __future__ import annotations

from typing import Any

from harness import plugins
from harness.errors import HarnessError
from harness.faults.base import Fault, FaultSession, NoOptions, as_tuple
from harness.record import Columns
from harness.spec import FaultSpec

__all__ = ["Fault", "FaultSession", "NoOptions", "register", "get", "names", "build", "select", "info",
           "column_groups", "default_names", "order", "unregister", "NO_FAULT", "parse", "split_names", "groups_of",
           "as_tuple"]

DEFAULT_FAULTS = ["kill9", "power-loss"]
NO_FAULT = "none"  # a trial in which nothing is broken (harness.trial.CrashTrial.load_without_fault)
_REGISTRY = plugins.Registry(__name__, __path__, Fault, "name", "fault", order=lambda cls: (cls.order, cls.name))
register, unregister, names = _REGISTRY.register, _REGISTRY.unregister, _REGISTRY.names
_SEQUENCES: dict[str, type[Fault]] = {}


def get(name: str) -> type[Fault]:
    """A registered fault, or the sequence its `+`-joined parts make."""
    if "+" not in name:
        return _REGISTRY.get(name)
    if name not in _SEQUENCES:
        from harness.faults.sequence import sequence_of  # noqa: PLC0415 - the sequence module imports this package's base

        _SEQUENCES[name] = sequence_of([_REGISTRY.get(part) for part in name.split("+")])
    return _SEQUENCES[name]


def parse(text: str) -> tuple[str, dict[str, str]]:
    """'slow-fsync+kill9:stall_s=5,delay_s=2' -> ('slow-fsync+kill9', {'stall_s': '5', 'delay_s': '2'})."""
    name, _, given = text.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in given.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise HarnessError(f"fault {text!r}: parameter {item!r} is not key=value")
        params[key.strip()] = value.strip()
    if not name:
        raise HarnessError(f"fault {text!r}: no fault name before the parameters")
    return name, params


def split_names(values: list[str] | tuple[str, ...]) -> list[str]:
    """--faults 'a b', 'a,b' and 'a:x=1,y=2 b' alike: a comma starts a new fault unless what follows
    it is a parameter (key=value) of the one before."""
    out: list[str] = []
    for piece in (p for value in values for word in value.split() for p in word.split(",")):
        if not piece:
            continue
        if out and "=" in piece and ":" not in piece and ":" in out[-1]:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out


def build(spec: FaultSpec) -> Fault:
    fault = get(spec.name).from_options(dict(spec.options))
    fault.key = spec.key or spec.name
    return fault


def _takes(cls: type[Fault]) -> set[str]:
    parts = getattr(cls, "parts", ()) or (cls,)
    return {f for part in parts for f in getattr(part.Options, "__dataclass_fields__", {})}


def select(fault_names: list[str], settings: dict[str, Any] | None = None) -> list[Fault]:
    """The named faults (with parameters, sequences), each given the run-wide settings it takes
    (`settings` may hold options of several faults: --fs-metadata is a power-loss option,
    meaningless to kill9). Unknown faults and parameters are clear errors."""
    parsed = [(text, *parse(text)) for text in fault_names]
    unknown = [part for _, name, _ in parsed for part in name.split("+") if part not in _REGISTRY.all()]
    if unknown:
        raise HarnessError(f"unknown fault {', '.join(map(repr, dict.fromkeys(unknown)))}: available are "
                           f"{', '.join(names())} (and sequences of them joined by +, such as slow-fsync+kill9)")
    chosen: dict[str, Fault] = {}
    for text, name, params in parsed:
        cls = get(name)
        given = {k: v for k, v in (settings or {}).items() if k in _takes(cls)}
        fault = cls.from_options({**given, **params})
        fault.key = f"{name}:{','.join(f'{k}={v}' for k, v in params.items())}" if params else name
        chosen.setdefault(fault.key, fault)
    return list(chosen.values())


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


def info(name: str) -> type[Fault] | Fault | _Unknown:
    """What the report needs of a fault named in results: its class, or with parameters the fault
    itself (`crash-mid-save:crash=power-loss` cuts the power, where the class does not)."""
    if str(name) == NO_FAULT:
        return _NoFault()
    try:
        cls = get(str(name).partition(":")[0])
    except HarnessError:
        return _Unknown(str(name))
    if ":" in str(name):
        try:
            return select([str(name)])[0]
        except HarnessError:
            return cls
    return cls


def groups_of(name: str) -> tuple[type[Columns], ...]:
    """The column groups a fault named in results fills (none for one this harness does not know)."""
    found = info(name)
    if isinstance(found, _Unknown):
        return ()
    try:
        return (found() if isinstance(found, type) else found).groups()
    except HarnessError:
        return (found.columns,) if found.columns is not None else ()


def order(fault_names) -> list[str]:
    """Distinct faults, gentlest first (each fault's `order`), unknown ones after, as first seen."""
    distinct = list(dict.fromkeys(str(f) for f in fault_names))
    return sorted(distinct, key=lambda f: (info(f).order, distinct.index(f)))


def column_groups() -> list[type[Columns]]:
    from harness.faults.sequence import SequenceFacts  # noqa: PLC0415 - see get()

    groups = [cls.columns for cls in _REGISTRY.all().values() if cls.columns is not None]
    return list(dict.fromkeys([*groups, SequenceFacts]))
