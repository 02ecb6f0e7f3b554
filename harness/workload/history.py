"""The history: every operation the client issued, with its timing and outcome (Jepsen's word).

Recording appends plain ints to per-column lists (cheap on the hot path); `frame()` turns
them into a DataFrame with readable categories, which is what is stored as Parquet and what
the checker reads.
"""

from __future__ import annotations

import pandas as pd

from harness.workload.session import Kind, Outcome, Phase

NO_VALUE = 0  # value_hash of an operation that writes no value
NO_RESULT = -1

COLUMNS = ("phase", "worker", "kind", "key", "start_ns", "end_ns", "outcome", "value_hash", "ttl_ms", "result", "error")


class HistoryRecorder:
    def __init__(self) -> None:
        self._cols: dict[str, list] = {name: [] for name in COLUMNS}
        # bound appends, looked up once: this runs for every operation
        self._append = [self._cols[name].append for name in COLUMNS]

    def record(self, phase: int, worker: int, kind: int, key: int, start_ns: int, end_ns: int, outcome: int,
               value_hash: int = NO_VALUE, ttl_ms: int = 0, result: int = NO_RESULT, error: str = "") -> None:
        a = self._append
        a[0](phase); a[1](worker); a[2](kind); a[3](key); a[4](start_ns); a[5](end_ns)  # noqa: E702
        a[6](outcome); a[7](value_hash); a[8](ttl_ms); a[9](result); a[10](error)  # noqa: E702

    def __len__(self) -> int:
        return len(self._cols["kind"])

    def frame(self) -> pd.DataFrame:
        return history_frame(self._cols)


def _categorical(codes, enum) -> pd.Categorical:
    labels = [member.name.lower() for member in enum]
    return pd.Categorical.from_codes(pd.array(codes, dtype="int8"), categories=labels)


def history_frame(cols: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame({
        "phase": _categorical(cols["phase"], Phase),
        "worker": pd.array(cols["worker"], dtype="int16"),
        "kind": _categorical(cols["kind"], Kind),
        "key": pd.array(cols["key"], dtype="int64"),
        "start_ns": pd.array(cols["start_ns"], dtype="int64"),
        "end_ns": pd.array(cols["end_ns"], dtype="int64"),
        "outcome": _categorical(cols["outcome"], Outcome),
        "value_hash": pd.array(cols["value_hash"], dtype="int64"),
        "ttl_ms": pd.array(cols["ttl_ms"], dtype="int64"),
        "result": pd.array(cols["result"], dtype="int64"),
        "error": pd.Categorical(cols["error"]),
    })
