"""`python -m harness check RUN`: judge a finished run again from its stored files.

Every trial's history, survivors and times are in the run folder, and checkers are pure, so a
run can be re-judged after a checker changes: the verdict columns of trials.csv, the verdicts in
survivors/ and the histograms are rewritten; everything measured on the server stays as it was.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from harness import checkers, schema
from harness.ceiling import CeilingColumns
from harness.checkers import Evidence
from harness.checkers.base import ServerEvidence
from harness.errors import HarnessError
from harness.record import Times, TrialRecord
from harness.runner.evidence import read_evidence
from harness.results import table_path
from harness.spec import TrialSpec

DEFAULT_CHECKERS = ("durability", "speed")  # what every crash trial ran before specs were kept
VERDICT_COLUMNS = ("status", "lost_writes", "durable_prefix")  # what an earlier check merged into survivors


def _times(record: TrialRecord, history: pd.DataFrame) -> Times:
    times = record[Times]
    if not times.read_ns:  # older runs did not keep it: the readback came after the last reply
        times = replace(times, read_ns=int(history["end_ns"].max()))
    return times


def _server(run_dir: Path, trial_id: str) -> ServerEvidence | None:
    """What the server said of itself in the trial (server/<trial>.json), for the checkers that read it."""
    path = run_dir / "server" / f"{trial_id}.json"
    try:
        return ServerEvidence.from_dict(json.loads(path.read_text())) if path.is_file() else None
    except ValueError as exc:
        raise HarnessError(f"{path}: not JSON ({exc})") from None


def _checker_names(run_dir: Path, trial_id: str) -> tuple[str, ...]:
    path = run_dir / "specs" / f"{trial_id}.json"
    return TrialSpec.read(path).checkers if path.is_file() else DEFAULT_CHECKERS


def recheck_trial(run_dir: Path, record: TrialRecord) -> TrialRecord:
    trial_id = record.identity.trial_id
    try:
        history = pd.read_parquet(run_dir / "histories" / f"{trial_id}.parquet")
        survivors = pd.read_parquet(run_dir / "survivors" / f"{trial_id}.parquet")
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{run_dir}: trial {trial_id} cannot be checked again: {exc}") from None
    survivors = survivors.drop(columns=[c for c in VERDICT_COLUMNS if c in survivors.columns])
    ceiling = record.get(CeilingColumns)
    evidence = Evidence(history, survivors, _times(record, history), ceiling.ceiling_ops_s if ceiling else float("nan"),
                        extra=read_evidence(run_dir / "evidence" / trial_id), server=_server(run_dir, trial_id),
                        facts=record.groups)
    groups = list(record.groups)
    for verdict in checkers.run_checkers(_checker_names(run_dir, trial_id), evidence):
        kinds = [type(g) for g in groups]
        if type(verdict.columns) in kinds:
            groups[kinds.index(type(verdict.columns))] = verdict.columns
        else:
            groups.insert(kinds.index(CeilingColumns) if CeilingColumns in kinds else len(groups), verdict.columns)
        if verdict.per_key is not None:
            survivors = survivors.merge(verdict.per_key, on="key", how="left")
        for name, text in verdict.files.items():
            if name == "histogram.hdr":
                (run_dir / "histograms" / f"{trial_id}.hdr").write_text(text)
    survivors.to_parquet(run_dir / "survivors" / f"{trial_id}.parquet", index=False)
    return TrialRecord(tuple(groups))


def recheck(run_dir: Path, echo) -> list[TrialRecord]:
    """Every trial of the run judged again; trials.csv rewritten once at the end (atomically)."""
    run_dir = Path(run_dir)
    path = table_path(run_dir)
    records = schema.read_records(path)
    checked = []
    for number, record in enumerate(records, 1):
        echo(f"[{number}/{len(records)}] checking {record.identity.trial_id} again")
        checked.append(recheck_trial(run_dir, record))
    schema.write_records(path, checked)
    return checked
