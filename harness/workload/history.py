"""The history: every operation the client issued, with its timing and outcome (Jepsen's word).

Recording appends machine integers to typed arrays (8 bytes per field, no Python object per
value), so a trial of a million operations costs tens of megabytes, not hundreds; `frame()`
turns them into a DataFrame with readable categories, which is what is stored as Parquet and
what the checker reads.
"""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd

from harness.workload.session import Kind, Outcome, Phase

NO_VALUE = 0  # value_hash of an operation that writes no value
NO_RESULT = -1

# `server`: the port of the server that answered (or, for an unknown outcome, was sent) the
# request: with a failover, two servers may both have acknowledged writes.
COLUMNS = ("phase", "worker", "kind", "key", "start_ns", "end_ns", "outcome", "value_hash", "ttl_ms", "result", "error",
           "server")


class HistoryRecorder:
    """Operations as packed rows of 12 little-endian int64 in one bytearray.

    The driver's hot path calls `extend(pack(...12 ints...))`: two C calls, no tuple and no
    Python frame per operation (struct packing is about 3x cheaper than array.extend, which
    converts item by item)."""

    WIDTH = len(COLUMNS)
    ROW = struct.Struct("<" + "q" * len(COLUMNS))

    def __init__(self) -> None:
        self._data = bytearray()
        self._error_codes: dict[str, int] = {"": 0}
        self.pack = self.ROW.pack
        self.extend = self._data.extend

    def error_code(self, error: str) -> int:
        code = self._error_codes.get(error)
        if code is None:
            code = self._error_codes[error] = len(self._error_codes)
        return code

    def record(self, phase: int, worker: int, kind: int, key: int, start_ns: int, end_ns: int, outcome: int,
               value_hash: int = NO_VALUE, ttl_ms: int = 0, result: int = NO_RESULT, error: str = "",
               server: int = 0) -> None:
        self.extend(self.pack(phase, worker, kind, key, start_ns, end_ns, outcome, value_hash, ttl_ms, result,
                              self.error_code(error) if error else 0, server))

    def __len__(self) -> int:
        return len(self._data) // self.ROW.size

    def frame(self) -> pd.DataFrame:
        rows = np.frombuffer(bytes(self._data), dtype="<i8").reshape(-1, self.WIDTH)
        cols = {name: rows[:, i] for i, name in enumerate(COLUMNS)}
        labels = sorted(self._error_codes, key=self._error_codes.__getitem__)
        errors = pd.Categorical.from_codes(cols.pop("error").astype(np.int32), categories=labels)
        return history_frame(cols, errors)


def _categorical(codes, enum) -> pd.Categorical:
    labels = [member.name.lower() for member in enum]
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int8), categories=labels)


def history_frame(cols: dict, errors) -> pd.DataFrame:
    return pd.DataFrame({
        "phase": _categorical(cols["phase"], Phase),
        "worker": np.asarray(cols["worker"], dtype=np.int16),
        "kind": _categorical(cols["kind"], Kind),
        "key": np.asarray(cols["key"], dtype=np.int64),
        "start_ns": np.asarray(cols["start_ns"], dtype=np.int64),
        "end_ns": np.asarray(cols["end_ns"], dtype=np.int64),
        "outcome": _categorical(cols["outcome"], Outcome),
        "value_hash": np.asarray(cols["value_hash"], dtype=np.int64),
        "ttl_ms": np.asarray(cols["ttl_ms"], dtype=np.int64),
        "result": np.asarray(cols["result"], dtype=np.int64),
        "error": errors,
        # Histories written before the column existed have none: 0, "not recorded".
        "server": np.asarray(cols.get("server", np.zeros(len(cols["key"]))), dtype=np.int32),
    })
