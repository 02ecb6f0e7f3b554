"""A trial's extra evidence on disk: what a scenario measured besides the session history.

A checker sees it as `Evidence.extra` (name -> a frame or a dict of facts). It is written into
the shard's `evidence/` folder (a frame as `<name>.parquet`, facts as `<name>.json`), moved to
`evidence/<trial id>/` in the run folder, and read back from there by `python -m harness check`,
so a re-judged trial gets exactly what the first judgement got.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import HarnessError

FOLDER = "evidence"


def write_evidence(folder: Path, extra: Mapping[str, Any]) -> None:
    """Each item as a file of its own; nothing is written when there is nothing to keep."""
    if not extra:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in extra.items():
        if isinstance(value, pd.DataFrame):
            value.to_parquet(folder / f"{name}.parquet", index=False)
        elif isinstance(value, Mapping):
            (folder / f"{name}.json").write_text(json.dumps(dict(value), indent=2, default=str) + "\n")
        else:
            raise TypeError(f"evidence {name!r} must be a DataFrame or a mapping, not {type(value).__name__}")


def read_evidence(folder: Path) -> dict[str, Any]:
    """What `write_evidence` wrote (an empty dict for a trial that kept none, or an older run)."""
    if not folder.is_dir():
        return {}
    found: dict[str, Any] = {}
    for path in sorted(folder.iterdir()):
        try:
            if path.suffix == ".parquet":
                found[path.stem] = pd.read_parquet(path)
            elif path.suffix == ".json":
                found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise HarnessError(f"{path}: the trial's evidence cannot be read: {exc}") from None
    return found
