"""One trial's results as typed columns: the trials.csv schema, declared once.

A row of trials.csv is a `TrialRecord`: groups of columns (`Columns` dataclasses), each
declared by what measured it (the trial's identity and set-up here; each checker and each
fault its own, next to its code). Writing flattens the groups in schema order; reading a row
back goes through the same declarations, so a column missing from an older file becomes the
field's default (NaN for a number) in one place instead of in every reader. `harness.schema`
lists every group the registries know.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar, get_type_hints

import pandas as pd

NAN = float("nan")
C = TypeVar("C", bound="Columns")


def is_missing(value: object) -> bool:
    """None or NaN (a number not measured, an empty CSV cell)."""
    if value is None:
        return True
    if isinstance(value, (str, bool, int)):
        return False
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def truthy(value: object) -> bool:
    """A boolean cell as pandas reads it: True/False, 'True'/'False', 1/0 (missing is False)."""
    if is_missing(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _convert(value: object, kind: type, default: object) -> object:
    """A cell as the field's type; missing -> the field's default."""
    if is_missing(value) or (isinstance(value, str) and value == "" and kind is not str):
        return default
    if kind is bool:
        return truthy(value)
    if kind is int:
        return int(float(value))  # type: ignore[arg-type]
    if kind is float:
        return float(value)  # type: ignore[arg-type]
    if kind is str:
        return value if isinstance(value, str) else (str(int(value)) if isinstance(value, float) and
                                                     value.is_integer() else str(value))
    return value


class Columns:
    """A group of trials.csv columns, measured by one thing. Subclasses are frozen dataclasses
    whose fields are the columns (int, float, str or bool), all with defaults."""

    #: old column names still read, e.g. {"kill_ns": "fault_ns"}
    aliases: ClassVar[dict[str, str]] = {}

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_row(cls: type[C], row: Mapping[str, Any]) -> C:
        hints = get_type_hints(cls)
        renamed = {new: old for old, new in cls.aliases.items()}
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            default = f.default if f.default is not MISSING else (
                f.default_factory() if f.default_factory is not MISSING else None)  # type: ignore[misc]
            raw = row.get(f.name, row.get(renamed.get(f.name, ""), None))
            kind = hints[f.name]
            kind = kind if isinstance(kind, type) else next(
                (k for k in getattr(kind, "__args__", ()) if isinstance(k, type) and k is not type(None)), str)
            values[f.name] = _convert(raw, kind, default)
        return cls(**values)

    @classmethod
    def present_in(cls, row: Mapping[str, Any]) -> bool:
        """Does this row carry any of the group's columns (with a value)?"""
        names = set(cls.columns()) | set(cls.aliases)
        return any(name in row and not is_missing(row[name]) for name in names)

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


# -- the groups every trial has --------------------------------------------------------------

@dataclass(frozen=True)
class Identity(Columns):
    """Which trial this is."""

    run_id: str = ""
    trial_id: str = ""
    scenario: str = "crash-matrix"
    server: str = ""  # what INFO server said: "redis 7.0.15"
    backend: str = ""
    image: str = ""  # the image the containers ran ("" for the process backend)
    host: str = ""  # the machine the trial ran on
    config: str = ""
    config_description: str = ""
    topology: str = "single"  # single: one server; sentinel: a primary, replicas and three Sentinels
    fault: str = "kill9"  # results written before faults were a column had only kill -9
    trial: int = 1
    seed: int = 0


@dataclass(frozen=True)
class Setup(Columns):
    """What the load was asked to be."""

    duration_s: float = NAN
    concurrency: int = 0
    offered_rate_ops_s: float = 0.0  # 0: as fast as it goes
    baseline_sessions: int = 0
    ack_mode: str = "plain"  # what acknowledged a write: its reply, or a WAIT / WAITAOF after it (harness.workload.acks)


@dataclass(frozen=True)
class Restart(Columns):
    """How the server came back after the fault."""

    recovery_s: float = NAN  # restart call to ready
    restart_failed: bool = False
    restart_error: str = ""  # the server's own words when it refused what survived
    aof_truncated: str = ""  # '<file> at offset <n>' when it cut a torn AOF tail to start
    loaded_from: str = ""  # what the restart loaded, by its log: aof, rdb, or nothing (it started empty)
    keys_loaded: int = -1  # keys its RDB load kept (a dump, or an AOF's RDB base), by its log; -1: not said
    keys_expired_on_load: int = -1  # keys that RDB load found already expired and skipped


@dataclass(frozen=True)
class Times(Columns):
    """When things happened: offsets from load start, and wall-clock stamps (ns since the epoch)."""

    aliases: ClassVar[dict[str, str]] = {"kill_at_s": "fault_at_s", "kill_ns": "fault_ns"}

    fault_at_s: float = NAN
    ready_at_s: float = NAN  # a failed restart: when the harness gave up
    load_start_ns: int = 0
    fault_ns: int = 0  # when the fault was injected (any fault, not only a kill)
    fault_effect_ns: int = 0  # when it took effect (the target stopped answering): the load's after phase began
    crash_ns: int = 0  # when the server stopped: the fault (a sequence's last part) or on its own; 0: it kept running
    restart_ns: int = 0
    ready_ns: int = 0
    read_ns: int = 0  # when the readback started (the checker judges expiry against it)


@dataclass(frozen=True)
class TrialRecord:
    """One row of trials.csv."""

    groups: tuple[Columns, ...]

    def get(self, kind: type[C]) -> C | None:
        return next((g for g in self.groups if type(g) is kind), None)

    def __getitem__(self, kind: type[C]) -> C:
        group = self.get(kind)
        if group is None:
            raise KeyError(f"trial {self.identity.trial_id} has no {kind.__name__} columns")
        return group

    @property
    def identity(self) -> Identity:
        return self[Identity]

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for group in self.groups:
            row.update(group.to_row())
        return row


def record_from_row(row: Mapping[str, Any], schema: Iterable[type[Columns]],
                    always: Iterable[type[Columns]] = ()) -> TrialRecord:
    """A row read back: the `always` groups, and any other group whose columns the row holds."""
    always = set(always)
    return TrialRecord(tuple(kind.from_row(row) for kind in schema if kind in always or kind.present_in(row)))


def schema_columns(schema: Iterable[type[Columns]]) -> list[str]:
    return list(dict.fromkeys(name for kind in schema for name in kind.columns()))


# -- the CSV files ---------------------------------------------------------------------------

def write_csv_atomically(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Write all rows (in `columns` order; a row lacking one leaves it empty) and replace `path`
    in one rename, so a reader never sees half a file and an interrupted run keeps the last one."""
    frame = pd.DataFrame(rows, columns=columns)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results CSV; names (configs, faults, ids) stay text even when they look like numbers."""
    frame = pd.read_csv(path, dtype={"config": str, "fault": str, "trial_id": str, "server": str})
    return frame.to_dict("records")
