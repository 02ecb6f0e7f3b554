"""Reading a results folder: trials.csv, environment.json, histories and config copies.

Only reads: a report can be rebuilt from a folder at any later time, on any machine, and
every file except trials.csv is optional (a run that was interrupted, a history that was
deleted to save space, an environment.json from an older harness).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


from harness.results import read_environment, read_trials  # noqa: F401 - re-exported for the report
HISTORIES = "histories"
CONFIGS = "configs"

# The history columns the charts need; reading only these keeps big histories cheap.
HISTORY_COLUMNS = ["phase", "kind", "start_ns", "end_ns", "outcome"]


@dataclass
class RunData:
    run_dir: Path
    trials: pd.DataFrame
    environment: dict
    config_texts: dict[str, str | None] = field(default_factory=dict)  # None: file not found

    def history_path(self, trial_id: str) -> Path:
        return self.run_dir / HISTORIES / f"{trial_id}.parquet"


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
    trials = read_trials(run_dir)
    environment = read_environment(run_dir)
    names = unique_in_order(trials["config"]) if "config" in trials.columns else []
    texts = {name: config_text(run_dir, environment, name) for name in names}
    return RunData(run_dir, trials, environment, texts)


def read_history(path: Path) -> pd.DataFrame | None:
    """The chart columns of one history, or None when the file is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path, columns=HISTORY_COLUMNS)
    except Exception:  # noqa: BLE001 - pyarrow raises many types; a bad file only costs a panel
        return None
