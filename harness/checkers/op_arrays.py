"""The stored frames as the checker reads them: the checked operations as columns, sorted by key
then start, and what was read back as columns by key. The I/O edge stays outside: these take
frames already read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.checkers.key_states import Observed, Op
from harness.workload.session import Kind, Outcome, Phase


@dataclass(frozen=True)
class OpArrays:
    """The operations the checker judges (baseline, load and failover phases; reads only when they
    were answered), one array per field, in key order then issue order."""

    key: np.ndarray  # int64
    kind: np.ndarray  # int64, Kind values
    outcome: np.ndarray  # int64, Outcome values
    start_ms: np.ndarray  # float64
    end_ms: np.ndarray  # float64
    value_hash: np.ndarray  # int64
    ttl_ms: np.ndarray  # int64
    result: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.key)

    def key_starts(self) -> np.ndarray:
        """The index of each key's first operation."""
        if not len(self.key):
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(np.append(True, self.key[1:] != self.key[:-1]))


def _codes(column: pd.Series, enum) -> np.ndarray:
    """Category codes of a stored column, mapped onto the enum's values whatever the order."""
    categorical = column.astype("category")
    lookup = np.array([enum[name.upper()].value for name in categorical.cat.categories], dtype=np.int64)
    return lookup[categorical.cat.codes.to_numpy()]


def op_arrays(history: pd.DataFrame) -> OpArrays:
    """Reads are kept (a hit or a miss is evidence); failed reads are not (they say nothing)."""
    phase = _codes(history["phase"], Phase)
    kind = _codes(history["kind"], Kind)
    outcome = _codes(history["outcome"], Outcome)
    keep = (phase != Phase.AFTER) & ~((kind == Kind.READ) & (outcome != Outcome.OK))
    key = history["key"].to_numpy()[keep]
    start_ns = history["start_ns"].to_numpy()[keep]
    order = np.lexsort((start_ns, key))

    def column(values, dtype) -> np.ndarray:
        return np.asarray(values)[keep][order].astype(dtype)

    return OpArrays(key=key[order].astype(np.int64), kind=kind[keep][order], outcome=outcome[keep][order],
                    start_ms=start_ns[order] / 1e6, end_ms=column(history["end_ns"], np.int64) / 1e6,
                    value_hash=column(history["value_hash"], np.int64), ttl_ms=column(history["ttl_ms"], np.int64),
                    result=column(history["result"], np.int64))


def ops_by_key(ops: OpArrays, only: np.ndarray | None = None) -> dict[int, list[Op]]:
    """Per-key Op lists (of the keys in `only`, sorted, when given)."""
    rows = np.arange(len(ops)) if only is None else np.flatnonzero(pd.Series(ops.key).isin(only).to_numpy())
    kinds, outcomes = list(Kind), list(Outcome)
    out: dict[int, list[Op]] = {}
    for key, k, o, s, e, h, t, r in zip(*(getattr(ops, name)[rows].tolist() for name in (
            "key", "kind", "outcome", "start_ms", "end_ms", "value_hash", "ttl_ms", "result"))):
        out.setdefault(key, []).append(Op(kinds[k], outcomes[o], s, e, h, t, r))
    return out


@dataclass(frozen=True)
class SeenArrays:
    """What was read back, one row per key read, sorted by key."""

    key: np.ndarray  # int64
    present: np.ndarray  # bool
    value_hash: np.ndarray  # int64
    expire_at_ms: np.ndarray  # int64, -1: no expiry
    read_at_ms: np.ndarray  # float64: when the key was read (nan: the check's read time)
    expire_slack_ms: np.ndarray  # float64

    def absent_from(self, keys: np.ndarray) -> np.ndarray:
        """The keys present here and not among `keys` (sorted)."""
        where = np.minimum(np.searchsorted(keys, self.key), max(len(keys) - 1, 0))
        listed = (keys[where] == self.key) if len(keys) else np.zeros(len(self.key), bool)
        return self.key[self.present & ~listed]

    def at(self, keys: np.ndarray) -> "SeenArrays":
        """One row per key of `keys`, in that order; a key never read back counts as absent."""
        where = np.searchsorted(self.key, keys)
        clipped = np.minimum(where, max(len(self.key) - 1, 0))
        found = (where < len(self.key)) & (self.key[clipped] == keys) if len(self.key) else np.zeros(len(keys), bool)

        def pick(values: np.ndarray, missing) -> np.ndarray:
            if not len(values):
                return np.full(len(keys), missing, dtype=values.dtype)
            return np.where(found, values[clipped], missing)

        return SeenArrays(np.asarray(keys, dtype=np.int64), pick(self.present, False), pick(self.value_hash, 0),
                          pick(self.expire_at_ms, -1), pick(self.read_at_ms, np.nan), pick(self.expire_slack_ms, 0.0))


def seen_arrays(survivors: pd.DataFrame) -> SeenArrays:
    """The readback's columns; `read_at_ms` per key where the readback stamped it (older runs did not)."""
    frame = survivors.sort_values("key", kind="stable")
    n = len(frame)
    read_at = frame["read_at_ms"].to_numpy(dtype=np.float64) if "read_at_ms" in frame else np.full(n, np.nan)
    slack = frame["expire_slack_ms"].to_numpy(dtype=np.float64) if "expire_slack_ms" in frame else np.zeros(n)
    return SeenArrays(frame["key"].to_numpy(dtype=np.int64), frame["present"].to_numpy(dtype=bool),
                      frame["value_hash"].to_numpy(dtype=np.int64), frame["expire_at_ms"].to_numpy(dtype=np.int64),
                      read_at, slack)


def observed_by_key(seen: SeenArrays) -> dict[int, Observed]:
    return {k: Observed(p, h, e, None if r != r else r, x) for k, p, h, e, r, x in zip(
        seen.key.tolist(), seen.present.tolist(), seen.value_hash.tolist(), seen.expire_at_ms.tolist(),
        seen.read_at_ms.tolist(), seen.expire_slack_ms.tolist())}
