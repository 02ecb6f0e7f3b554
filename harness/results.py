"""The results folder of one run: results/<run id>/, with results/latest pointing at the newest.

Everything a report needs is written as soon as it exists (the scenario's table, trials.csv,
is rewritten after every trial), so an interrupted or failed run keeps the trials it finished.
Each trial arrives as a shard (harness.runner.shard) and is merged in (harness.runner.merge).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.record import read_rows, write_csv_atomically

TRIALS_CSV = "trials.csv"
ENVIRONMENT_JSON = "environment.json"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


class RunDir:
    """results/<prefix><run id>/ with results/<latest link> pointing at the newest."""

    SUBDIRS = ("specs", "histories", "survivors", "histograms", "ceilings", "logs", "configs", "data")

    def __init__(self, root: Path, run_id: str, table: str = TRIALS_CSV, latest_link: str = "latest",
                 columns: Callable[[], list[str]] | None = None) -> None:
        self.root = root
        self.path = root / run_id
        self.run_id = run_id
        self.table = table
        self.latest_link = latest_link
        self.columns = columns  # the table's column order (None: as the rows have them)
        self._rows: list[dict] = []

    @classmethod
    def create(cls, root: Path, run_id: str | None = None, **kw) -> "RunDir":
        """A new, writable folder under `root` (a suffix keeps two runs in one second apart)."""
        run_id = run_id or new_run_id()
        candidate, suffix = run_id, 1
        while (root / candidate).exists():
            suffix += 1
            candidate = f"{run_id}-{suffix}"
        run = cls(root, candidate, **kw)
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

    @classmethod
    def open_or_create(cls, path: Path, **kw) -> "RunDir":
        """An existing run folder (its rows loaded, to be added to), or a new one at exactly `path`."""
        path = Path(path)
        run = cls(path.parent, path.name, **kw)
        if path.is_dir():
            run.load_rows()
            return run
        try:
            path.mkdir(parents=True)
            for sub in cls.SUBDIRS:
                (path / sub).mkdir()
        except OSError as exc:
            raise HarnessError(f"cannot write results under {path}: {exc.strerror or exc}") from None
        return run

    def shard_dir(self, trial_id: str) -> Path:
        """Where a trial running here writes its shard before it is merged (same filesystem: moves are renames)."""
        return self.path / ".shards" / trial_id

    def log_path(self, point: str) -> Path:
        return self.path / "logs" / f"{point}.log"

    def write_environment(self, environment: dict) -> None:
        tmp = self.path / f".{ENVIRONMENT_JSON}.tmp"
        tmp.write_text(json.dumps(environment, indent=2, default=str) + "\n")
        os.replace(tmp, self.path / ENVIRONMENT_JSON)

    def environment(self) -> dict:
        return read_environment(self.path)

    def write_config(self, name: str, text: str) -> None:
        (self.path / "configs" / f"{name}.conf").write_text(text)

    def add_rows(self, rows: list[dict]) -> None:
        self._rows.extend(rows)
        columns = self.columns() if self.columns else list(dict.fromkeys(k for row in self._rows for k in row))
        write_csv_atomically(self.path / self.table, self._rows, columns)

    def load_rows(self) -> None:
        """Rows already in the table (a run being continued)."""
        path = self.path / self.table
        self._rows = read_rows(path) if path.is_file() else []

    @property
    def rows(self) -> list[dict]:
        return list(self._rows)

    @property
    def trial_count(self) -> int:
        return len(self._rows)

    def mark_latest(self) -> None:
        """Point the latest link at this run (a relative symlink, replaced atomically)."""
        link = self.root / self.latest_link
        tmp = self.root / f".{self.latest_link}-{os.getpid()}"
        try:
            if tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(self.run_id)
            os.replace(tmp, link)
        except OSError:
            pass  # a missing convenience link is not worth failing a run for

    def tidy(self) -> None:
        """Remove what only a running trial needed (the shards' scratch folder) and the folders no
        trial wrote to (no data kept; a scenario without histories)."""
        shutil.rmtree(self.path / ".shards", ignore_errors=True)
        for sub in self.SUBDIRS:
            folder = self.path / sub
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def read_environment(run_dir: Path) -> dict:
    path = Path(run_dir) / ENVIRONMENT_JSON
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged environment.json should not stop the report; the tables still hold
    return data if isinstance(data, dict) else {}


def table_path(run_dir: Path, table: str = TRIALS_CSV) -> Path:
    path = Path(run_dir) / table
    if not path.is_file():
        raise HarnessError(f"{run_dir} holds no {table}: not a results folder, or no trial finished")
    return path
