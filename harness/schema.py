"""The trials.csv schema: the core groups, then every checker's and every fault's columns.

The one place that knows the order of a row; writing and reading trials.csv both go through
it (`write_records`, `read_records`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import checkers, faults, topology
from harness.ceiling import CeilingColumns
from harness.record import (Columns, Identity, Restart, Setup, Times, TrialRecord, read_rows, record_from_row,
                            schema_columns, write_csv_atomically)
from harness.workload.app import AppFacts
from harness.workload.route import ClientFacts

CORE = (Identity, Setup, CeilingColumns, Restart, Times)


def trial_schema() -> list[type[Columns]]:
    """Identity and set-up first, then what the checkers counted, the ceiling, the restart, what
    the faults, the topologies and the load's client recorded, and the time stamps last."""
    return [Identity, Setup, *checkers.column_groups(), CeilingColumns, Restart, *faults.column_groups(),
            *topology.column_groups(), ClientFacts, AppFacts, Times]


def columns() -> list[str]:
    return schema_columns(trial_schema())


def write_records(path: Path, records: list[TrialRecord]) -> None:
    write_csv_atomically(path, [r.to_row() for r in records], columns())


def records_from_rows(rows: list[dict]) -> list[TrialRecord]:
    schema = trial_schema()
    return [record_from_row(row, schema, always=CORE) for row in rows]


def read_records(path: Path) -> list[TrialRecord]:
    return records_from_rows(read_rows(path))


def records_frame(records: list[TrialRecord]) -> pd.DataFrame:
    """The records as one typed table (every schema column present, in order): what the report
    groups and takes medians of."""
    frame = pd.DataFrame([r.to_row() for r in records], columns=columns())
    for kind in trial_schema():
        for name, default in kind().to_row().items():
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def numeric_columns() -> list[str]:
    """The columns that hold a number or a flag (a flag reads as 0 or 1): what an expectation can check."""
    return [name for kind in trial_schema() for name, default in kind().to_row().items()
            if isinstance(default, (int, float))]
