"""What a checker sees and what it returns.

A checker is a pure function of one trial's evidence (its history, what survived, when
things happened) returning its own trials.csv columns: nothing else goes in, so
`python -m harness check RUN` can re-judge a stored trial from its files alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from harness.record import NAN, Columns, Times


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
