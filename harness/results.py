"""The results folder of one run: results/<run id>/, with results/latest pointing at the newest.

Everything a report needs is written as soon as it exists (trials.csv is rewritten after
every trial), so an interrupted or failed run keeps the trials it finished.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

TRIALS_CSV = "trials.csv"
ENVIRONMENT_JSON = "environment.json"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


class ResultsFolder:
    """results/<prefix><run id>/ with results/<latest link> pointing at the newest: the shape
    every scenario's results share (a unique folder, logs, configs, per-point data dirs)."""

    LATEST_LINK = "latest"
    SUBDIRS: tuple[str, ...] = ("logs", "configs", "data")

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.path = root / run_id
        self.run_id = run_id

    @classmethod
    def create(cls, root: Path, run_id: str | None = None):
        """A new, writable folder under `root` (a suffix keeps two runs in one second apart)."""
        run_id = run_id or new_run_id()
        suffix = 1
        candidate = run_id
        while (root / candidate).exists():
            suffix += 1
            candidate = f"{run_id}-{suffix}"
        run = cls(root, candidate)
        try:
            run.path.mkdir(parents=True)
            probe = run.path / ".writable"
            probe.write_text("ok")
            probe.unlink()
            for sub in cls.SUBDIRS:
                (run.path / sub).mkdir()
        except OSError as exc:
            raise HarnessError(f"cannot write results under {root}: {exc.strerror or exc}") from None
        return run

    def data_dir(self, point: str) -> Path:
        path = self.path / "data" / point
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, point: str) -> Path:
        return self.path / "logs" / f"{point}.log"

    def write_environment(self, environment: dict) -> None:
        (self.path / ENVIRONMENT_JSON).write_text(json.dumps(environment, indent=2, default=str) + "\n")

    def copy_config(self, config_path: Path) -> None:
        shutil.copy2(config_path, self.path / "configs" / config_path.name)

    def mark_latest(self) -> None:
        """Point the latest link at this run (a relative symlink, replaced atomically)."""
        link = self.root / self.LATEST_LINK
        tmp = self.root / f".{self.LATEST_LINK}-{os.getpid()}"
        try:
            if tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(self.run_id)
            os.replace(tmp, link)
        except OSError:
            pass  # a missing convenience link is not worth failing a run for

    def remove_empty_data_dir(self) -> None:
        data = self.path / "data"
        if data.is_dir() and not any(data.iterdir()):
            data.rmdir()


class RunDir(ResultsFolder):
    """A crash-matrix run: trials.csv rewritten after every trial, and each trial's files."""

    SUBDIRS = ("histories", "survivors", "histograms", "ceilings", "logs", "configs", "data")

    def __init__(self, root: Path, run_id: str) -> None:
        super().__init__(root, run_id)
        self._rows: list[dict] = []

    def write_history(self, trial_id: str, history: pd.DataFrame) -> None:
        history.to_parquet(self.path / "histories" / f"{trial_id}.parquet", index=False)

    def write_survivors(self, trial_id: str, survivors: pd.DataFrame) -> None:
        survivors.to_parquet(self.path / "survivors" / f"{trial_id}.parquet", index=False)

    def write_histogram(self, trial_id: str, encoded: str) -> None:
        """The load's latency histogram (HdrHistogram, base64), readable by any hdrh tool."""
        (self.path / "histograms" / f"{trial_id}.hdr").write_text(encoded + "\n")

    def write_ceiling(self, trial_id: str, ceiling) -> None:
        (self.path / "ceilings" / f"{trial_id}.json").write_text(json.dumps(asdict(ceiling), indent=2) + "\n")

    def add_trial(self, row: dict) -> None:
        self._rows.append(row)
        frame = pd.DataFrame(self._rows)
        tmp = self.path / f".{TRIALS_CSV}.tmp"
        frame.to_csv(tmp, index=False)
        os.replace(tmp, self.path / TRIALS_CSV)

    @property
    def trial_count(self) -> int:
        return len(self._rows)


def read_trials(run_dir: Path) -> pd.DataFrame:
    path = run_dir / TRIALS_CSV
    if not path.is_file():
        raise HarnessError(f"{run_dir} holds no {TRIALS_CSV}: not a results folder, or no trial finished")
    trials = pd.read_csv(path)
    # Names are labels, never numbers (a config could be called "1"); keep them as text.
    for column in ("config", "fault", "trial_id"):
        if column in trials.columns:
            trials[column] = trials[column].astype(str)
    return trials


def read_environment(run_dir: Path) -> dict:
    path = run_dir / ENVIRONMENT_JSON
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged environment.json should not stop the report; the tables still hold
    return data if isinstance(data, dict) else {}
