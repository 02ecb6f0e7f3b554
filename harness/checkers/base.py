"""What a checker sees and what it returns.

A checker is a pure function of one trial's evidence (its history, what survived, when
things happened) returning its own trials.csv columns: nothing else goes in, so
`python -m harness check RUN` can re-judge a stored trial from its files alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import pandas as pd

from harness.record import NAN, Columns, Times

C = TypeVar("C", bound=Columns)


@dataclass(frozen=True)
class ServerEvidence:
    """What the server itself said in the trial, and when it stopped: read from the server, stored
    in the shard (server.json) so its checkers can run again from the files alone."""

    config: dict = field(default_factory=dict)  # CONFIG GET save, appendonly, appendfsync at the start
    info_before: dict = field(default_factory=dict)  # INFO persistence + stats right before the fault
    info_at_crash: dict = field(default_factory=dict)  # right before the fault stopped it ({}: not read, or it did not)
    info_at_end: dict = field(default_factory=dict)  # when the fault's time was over and it was still running
    info_after_lift: dict = field(default_factory=dict)  # once the fault was lifted (a stalled server answers again)
    stopped: str = ""  # "fault": a fault stopped it; "exited": it exited on its own; "": it kept running
    stopped_ns: int = 0  # when (wall clock)
    watch_end_ns: int = 0  # when the trial stopped watching a server that kept running
    restarted: bool = False
    restart_failed: bool = False  # the server would not start on what survived
    power_cut: bool = False  # the fault cut the power (only fsynced bytes survived)
    start_ns: int = 0  # the first start call
    log: str = ""  # the server's whole log, every start
    log_offset_s: float = 0.0  # add to a log line's local time to get UTC
    fault_facts: dict = field(default_factory=dict)  # the fault's trials.csv columns (a flat row)

    @classmethod
    def from_dict(cls, data: dict | None) -> "ServerEvidence | None":
        if not data:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Evidence:
    history: pd.DataFrame  # every operation (harness.workload.history)
    survivors: pd.DataFrame  # what was read back after the restart (key, present, value_hash, expire_at_ms)
    times: Times  # load start, fault, restart, readback
    ceiling_ops_s: float = NAN  # redis-benchmark's rate on the same server, before the load
    # What a scenario measured besides the session history, by name: a frame (the keys the server
    # evicted) or a dict of facts (INFO figures). Stored in the shard's evidence/ folder, so
    # `python -m harness check` hands the checkers the same evidence again.
    extra: Mapping[str, Any] = field(default_factory=dict)
    server: ServerEvidence | None = None  # INFO, CONFIG and log (None: a trial that did not read them)
    facts: tuple[Columns, ...] = ()  # what the trial measured besides (a topology's failover instants)

    def fact(self, kind: type[C]) -> C | None:
        return next((group for group in self.facts if type(group) is kind), None)


@dataclass(frozen=True)
class Verdict:
    columns: Columns
    per_key: pd.DataFrame | None = None  # merged into the survivors file by key (a verdict per session)
    files: dict[str, str] = field(default_factory=dict)  # shard file name -> text (a histogram, say)


class Checker(ABC):
    name: ClassVar[str]
    columns: ClassVar[type[Columns]]

    @abstractmethod
    def check(self, evidence: Evidence) -> Verdict: ...
