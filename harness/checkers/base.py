"""What a checker sees and what it returns.

A checker is a pure function of one trial's evidence (its history, what survived, when
things happened) returning its own trials.csv columns: nothing else goes in, so
`python -m harness check RUN` can re-judge a stored trial from its files alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import pandas as pd

from harness.record import NAN, Columns, Times

C = TypeVar("C", bound=Columns)


@dataclass(frozen=True)
class Evidence:
    history: pd.DataFrame  # every operation (harness.workload.history)
    survivors: pd.DataFrame  # what was read back after the restart (key, present, value_hash, expire_at_ms)
    times: Times  # load start, fault, restart, readback
    ceiling_ops_s: float = NAN  # redis-benchmark's rate on the same server, before the load
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
