"""One trial as data: everything a machine needs to run it, and nothing it must look up elsewhere.

A scenario expands its options into a list of `TrialSpec`s (the matrix is that list); a spec
is run in-process by the local runner or, from its JSON, by `python -m harness worker SPEC
OUT` on any machine with a Docker engine or a server binary. The config travels as text, so
a worker needs no copy of `configs/`.

msgspec does the JSON round trip, because it decodes *and* validates nested dataclasses
against their type hints in one step: a malformed spec file fails with the field's path
(`Expected int, got str - at $.workload.concurrency`) instead of deep inside a trial.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec

from harness.errors import HarnessError
from harness.workload.session import WorkloadParams

Options = dict[str, str | int | float | bool | None]


def absolute_path(path: Path | str) -> str:
    """An absolute path as typed, symlinks kept: Debian's redis-server is a symlink to
    redis-check-rdb, and the binary picks what it is from the name it was started under."""
    return os.path.abspath(os.path.expanduser(str(path)))  # a fault's, topology's or scenario's own settings


@dataclass(frozen=True)
class ServerChoice:
    """Which server: an image (Docker backend; pulled, or built offline from a local binary) or a
    binary (the process backend, or what the offline image is built from)."""

    backend: str = "auto"  # auto | docker | process
    image: str = "redis:7.4"  # "": the binary itself (built into an image on Docker)
    binary: str | None = None  # an absolute path on the machine that runs the trial
    name: str = ""  # what the run calls it in trial ids and messages ("redis-7.4", "valkey-8.1.8")

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "docker", "process"):
            raise HarnessError(f"unknown backend {self.backend!r}: choose auto, docker or process")

    @classmethod
    def of(cls, backend: str, image: str, binary: Path | str | None) -> "ServerChoice":
        # Made absolute here, where the user typed it: the server runs with its data directory as
        # working directory, where a relative path would point nowhere.
        return cls(backend, image, absolute_path(binary) if binary else None)

    @property
    def label(self) -> str:
        """The name, else what was asked for: an image, or a binary's path."""
        return self.name or self.image or str(self.binary)


@dataclass(frozen=True)
class ConfigSpec:
    """A persistence config: the fragment's text is the config."""

    name: str
    text: str
    description: str = ""
    source: str = ""  # the file it was read from, named in messages about its lines


@dataclass(frozen=True)
class FaultSpec:
    name: str  # a registered fault, or a sequence of them ("slow-fsync+kill9")
    options: Options = field(default_factory=dict)
    key: str = ""  # the name in results, with the parameters the user set ("eio-write:mode=once"); "": name


@dataclass(frozen=True)
class TopologySpec:
    kind: str = "single"
    options: Options = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    """When things happen in a crash trial."""

    duration_s: float = 4.0  # seconds of load
    after_s: float = 0.5  # load kept going after the restart, to see clients come back
    fault_window: tuple[float, float] = (0.5, 0.95)  # the fault lands at a uniform fraction of the load
    ceiling_requests: int = 20_000  # redis-benchmark requests for the ceiling (0: not measured)

    def __post_init__(self) -> None:
        low, high = self.fault_window
        if not 0 <= low <= high <= 1:
            raise HarnessError(f"fault window {self.fault_window} must be fractions 0 <= low <= high <= 1")
        if self.duration_s <= 0:
            raise HarnessError("duration must be positive")


@dataclass(frozen=True)
class TrialSpec:
    scenario: str
    trial_id: str  # unique within a run; names every file of the trial
    trial: int  # 1-based repeat number within its (server, config, fault)
    seed: int
    config: ConfigSpec
    server: ServerChoice = field(default_factory=ServerChoice)
    topology: TopologySpec = field(default_factory=TopologySpec)
    fault: FaultSpec = field(default_factory=lambda: FaultSpec("kill9"))
    workload: WorkloadParams = field(default_factory=WorkloadParams)
    timeline: Timeline = field(default_factory=Timeline)
    checkers: tuple[str, ...] = ("durability", "speed", "reaction", "bound")
    scenario_options: Options = field(default_factory=dict)
    run_id: str = ""
    keep_data: bool = False
    port: int | None = None  # a fixed port on 127.0.0.1; None: a free one

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "spec") -> "TrialSpec":
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.ValidationError as exc:
            raise HarnessError(f"{where}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise HarnessError(f"{where}: not a JSON trial spec ({exc})") from None

    @classmethod
    def read(cls, path: Path) -> "TrialSpec":
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise HarnessError(f"cannot read trial spec {path}: {exc.strerror or exc}") from None
        return cls.from_json(data, where=str(path))

    def with_run(self, run_id: str) -> "TrialSpec":
        return replace(self, run_id=run_id)


def trial_seed(run_seed: int, *parts: object) -> int:
    """Each trial's seed, from the run's seed and what names the trial: reproducible one by one."""
    return random.Random(":".join(str(p) for p in (run_seed, *parts))).randrange(2**31)


def trial_id(*parts: str | int) -> str:
    """'aof-always__eio-write-mode=once__1': every file of the trial is named by it, and a colon
    (a fault's parameters) would break a Docker volume specification (host:container:mode)."""
    return "__".join(str(p).replace(":", "-") for p in parts)
