"""Reading a results folder: trials.csv, environment.json, histories and config copies.

Only reads: a report can be rebuilt from a folder at any later time, on any machine, and
every file except trials.csv is optional (a run that was interrupted, a history that was
deleted to save space, an environment.json from an older harness).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from harness import schema
from harness.record import Identity, TrialRecord
from harness.report.section import ConfigFile
from harness.results import read_environment, table_path

HISTORIES = "histories"
CONFIGS = "configs"

# The history columns the charts need; reading only these keeps big histories cheap.
HISTORY_COLUMNS = ["phase", "kind", "start_ns", "end_ns", "outcome"]


def read_records(run_dir: Path) -> list[TrialRecord]:
    return schema.read_records(table_path(run_dir))


def read_trials(run_dir: Path) -> pd.DataFrame:
    """trials.csv as typed records, as one table (every schema column present)."""
    return schema.records_frame(read_records(run_dir))


@dataclass
class RunData:
    run_dir: Path
    records: list[TrialRecord]
    trials: pd.DataFrame  # the records as a table (harness.schema.records_frame)
    environment: dict
    config_texts: dict[str, str | None] = field(default_factory=dict)  # None: file not found

    def history_path(self, trial_id: str) -> Path:
        return self.run_dir / HISTORIES / f"{trial_id}.parquet"

    def scenarios(self) -> list[str]:
        """The scenarios whose trials are in trials.csv, as first seen; a run without trials is
        reported as the default scenario (what an old row without the column was)."""
        return list(dict.fromkeys(r.identity.scenario for r in self.records)) or [Identity().scenario]

    def only(self, scenario: str) -> RunData:
        """The same run, with only the trials of `scenario`."""
        records = [r for r in self.records if r.identity.scenario == scenario]
        return replace(self, records=records, trials=schema.records_frame(records))

    def first(self, column: str) -> object:
        """The first recorded value of a column (None when no trial has one)."""
        values = self.trials[column].dropna() if column in self.trials.columns else pd.Series(dtype=object)
        return values.iloc[0] if len(values) else None


def config_text(run_dir: Path, environment: dict, name: str) -> str | None:
    """The config file as it was used: the run folder's copy first, then the configs_dir it names."""
    candidates = [run_dir / CONFIGS / f"{name}.conf"]
    configs_dir = environment.get("configs_dir")
    if configs_dir:
        directory = Path(str(configs_dir))
        # A relative configs_dir was relative to where the run started, which may not be here.
        candidates += [directory / f"{name}.conf"] if directory.is_absolute() else [
            run_dir / directory / f"{name}.conf", Path.cwd() / directory / f"{name}.conf"]
    for path in candidates:
        try:
            if path.is_file():
                return path.read_text()
        except OSError:
            continue
    return None


def unique_in_order(values: pd.Series) -> list[str]:
    return [str(v) for v in dict.fromkeys(values.dropna().tolist())]


def load_run(run_dir: Path) -> RunData:
    run_dir = Path(run_dir)
    records = read_records(run_dir)
    trials = schema.records_frame(records)
    environment = read_environment(run_dir)
    names = unique_in_order(trials["config"])
    texts = {name: config_text(run_dir, environment, name) for name in names}
    return RunData(run_dir, records, trials, environment, texts)


def config_files(run: RunData) -> list[ConfigFile]:
    """Every config the run measured, with its description and the file as it was used."""
    files = []
    for name, text in run.config_texts.items():
        descriptions = run.trials.loc[run.trials["config"] == name, "config_description"]
        description = next((str(d) for d in descriptions if isinstance(d, str) and d), None)
        files.append(ConfigFile(name, description, text))
    return files


def read_history(path: Path) -> pd.DataFrame | None:
    """The chart columns of one history, or None when the file is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path, columns=HISTORY_COLUMNS)
    except Exception:  # noqa: BLE001 - pyarrow raises many types; a bad file only costs a panel
        return None
