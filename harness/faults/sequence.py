"""A sequence of faults, written with `+`: `slow-fsync+kill9` is a slow disk, then a process crash
`delay_s` seconds later. Built by the registry from the parts' names (no file per sequence).

Every part but the last must leave the server running (a disk fault); the last one usually
stops it. One part owns the target's data directory, the strongest kind wins: a power cut's
powerfs mount (set up for disk faults too when one is in the sequence), else a disk fault's, else
the plain directory; the others act on it. Parameters route to the parts that take them
(`stall_s=2` to slow-fsync), `part.name=value` to one part, `delay_s` to the sequence.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import HarnessError
from harness.faults.base import Facts, Fault, FaultSession, as_tuple
from harness.faults.disk import prepare_for_disk_faults
from harness.record import NAN, Columns
from harness.spec import ConfigSpec, FaultSpec

DISK_STRENGTH = {"plain": 0, "faulty": 1, "power": 2}
POLL_S = 0.05


@dataclass(frozen=True)
class SequenceOptions:
    delay_s: float = 3.0  # seconds from one part of the sequence to the next

    def __post_init__(self) -> None:
        if self.delay_s < 0:
            raise ValueError(f"delay_s {self.delay_s:g} must be >= 0")


@dataclass(frozen=True)
class SequenceFacts(Columns):
    """When the later parts of a sequence struck."""

    labels: ClassVar[dict[str, str]] = {"then_at_s": "Then at (s)"}

    sequence_delay_s: float = NAN  # asked
    then_fault: str = ""  # the parts after the first
    then_at_s: float = NAN  # measured: from the first part to the last one
    stopped_before_then: bool = False  # the server had already stopped (on its own) when the last part came


def validate(parts: list[type[Fault]]) -> None:
    """A sequence that cannot mean anything is refused before any trial."""
    for part in parts[:-1]:
        if part.stops_server:
            raise HarnessError(f"fault sequence {'+'.join(p.name for p in parts)}: {part.name} stops the server, "
                               "so nothing can follow it; only disk faults (which leave it running) can come first")
    for kind in ("power", "faulty"):
        owners = [p.name for p in parts if p.disk == kind]
        if len(owners) > 1:
            what = "power cut" if kind == "power" else "disk fault"
            raise HarnessError(f"fault sequence {'+'.join(p.name for p in parts)}: one {what} per sequence "
                               f"({', '.join(owners)})")


def route(parts: list[type[Fault]], given: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split a sequence's parameters: its own, and each part's (unqualified names go to every part
    that takes them; `name.key` to that part). An unknown one is a clear error."""
    own = {k: v for k, v in given.items() if k in {f.name for f in fields(SequenceOptions)}}
    per_part: list[dict[str, Any]] = [{} for _ in parts]
    for key, value in given.items():
        if key in own:
            continue
        target, _, short = key.rpartition(".")
        takers = [i for i, p in enumerate(parts) if (not target or p.name == target) and
                  short in {f.name for f in fields(p.Options)}]
        if not takers:
            takes = sorted({"delay_s"} | {f"{p.name}.{f.name}" for p in parts for f in fields(p.Options)})
            raise HarnessError(f"fault {'+'.join(p.name for p in parts)}: unknown parameter {key!r} "
                               f"(it takes {', '.join(takes)})")
        for i in takers:
            per_part[i][short] = value
    return own, per_part


class Sequence(Fault):
    parts: ClassVar[tuple[type[Fault], ...]] = ()
    Options = SequenceOptions
    columns = SequenceFacts

    def __init__(self, options: Any = None, members: list[Fault] | None = None) -> None:
        super().__init__(options)
        self.members = members if members is not None else [part() for part in self.parts]

    @classmethod
    def from_options(cls, given: dict[str, Any]) -> "Sequence":
        own, per_part = route(list(cls.parts), given)
        try:
            options = SequenceOptions(**{k: float(v) for k, v in own.items()})
        except (TypeError, ValueError) as exc:
            raise HarnessError(f"fault {cls.name}: {exc}") from None
        return cls(options, [part.from_options(o) for part, o in zip(cls.parts, per_part)])

    def spec(self) -> FaultSpec:
        options = {"delay_s": self.options.delay_s}
        for member in self.members:
            options.update({f"{member.name}.{k}": v for k, v in member.spec().options.items()})
        return FaultSpec(self.name, options, key=self.key if self.key != self.name else "")

    def check(self) -> None:
        for member in self.members:
            member.check()

    def check_with(self, config: ConfigSpec, workload: Any) -> None:
        for member in self.members:
            member.check_with(config, workload)

    def watch_s(self) -> float:
        return self.members[-1].watch_s()

    def groups(self) -> tuple[type[Columns], ...]:
        return tuple(dict.fromkeys([SequenceFacts, *(g for m in self.members for g in m.groups())]))

    def stops_at_once(self) -> bool:
        return False  # its first part leaves the server running; before_crash() marks the stop

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        owner_at = max(range(len(self.members)), key=lambda i: DISK_STRENGTH[self.members[i].disk])
        owner = self.members[owner_at].session(data_dir, seed)
        if self.members[owner_at].disk == "power" and any(m.disk == "faulty" for m in self.members):
            prepare_for_disk_faults(owner.fs)
        sessions = [owner if i == owner_at else m.attach(owner, seed) for i, m in enumerate(self.members)]
        return _SequenceSession(self, sessions, owner_at)


class _SequenceSession(FaultSession):
    def __init__(self, fault: Sequence, sessions: list[FaultSession], owner_at: int) -> None:
        self.fault = fault
        self.sessions = sessions
        self.owner_at = owner_at
        self.server_dir = sessions[owner_at].server_dir
        self._stack = ExitStack()

    def __enter__(self) -> "_SequenceSession":
        try:
            self._stack.enter_context(self.sessions[self.owner_at])
            for i, session in enumerate(self.sessions):
                if i != self.owner_at:
                    self._stack.enter_context(session)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _wait(self, topology, until_s: float) -> bool:
        """Sleep until the monotonic time `until_s`; True if the server stopped on its own meanwhile."""
        while time.monotonic() < until_s:
            if not topology.primary.is_running():
                return True
            time.sleep(min(POLL_S, max(0.0, until_s - time.monotonic())))
        return not topology.primary.is_running()

    def inject(self, topology, took_effect) -> Facts:
        facts: list[Columns] = []
        began = time.monotonic()
        stopped_first = False
        for i, (member, session) in enumerate(zip(self.fault.members, self.sessions)):
            if i > 0:
                if self._wait(topology, began + i * self.fault.options.delay_s) and not stopped_first:
                    stopped_first = True
                    self.before_crash("exited")
                for earlier in self.sessions[:i]:
                    earlier.observe()
            if member.stops_server and not stopped_first:
                self.before_crash("fault")
            struck = time.monotonic()
            facts.extend(as_tuple(session.inject(topology, took_effect)))
        return (*facts, SequenceFacts(
            sequence_delay_s=self.fault.options.delay_s, then_fault="+".join(m.name for m in self.fault.members[1:]),
            then_at_s=round(struck - began, 3), stopped_before_then=stopped_first))

    def finish(self) -> Facts:
        return tuple(fact for session in self.sessions for fact in as_tuple(session.finish()))

    def __exit__(self, *exc) -> None:
        self._stack.close()


def sequence_of(parts: list[type[Fault]]) -> type[Sequence]:
    """The sequence class of these parts, in order (validated)."""
    validate(parts)
    attributes = {
        "name": "+".join(p.name for p in parts),
        "parts": tuple(parts),
        "label": ", then ".join(p.label for p in parts),
        "phrase": " followed by ".join(p.phrase for p in parts),
        "description": (f"`{'+'.join(p.name for p in parts)}`: a sequence, each part `delay_s` seconds after the one "
                        "before (default 3). " + " ".join(p.description for p in parts)),
        "meaning": "; then ".join(p.meaning for p in parts if p.meaning),
        "cuts_power": any(p.cuts_power for p in parts),
        "stops_server": parts[-1].stops_server,
        "disk": max((p.disk for p in parts), key=DISK_STRENGTH.__getitem__),
        "order": max(p.order for p in parts) + 1,
    }
    return type(f"Sequence_{attributes['name']}", (Sequence,), attributes)
