"""A results shard: everything one trial produced, in one folder, readable without the run.

    spec.json          the trial spec it ran
    records.json       its rows for the scenario's table (trials.csv: one row)
    host.json          the machine it ran on (harness.runner.host)
    history.parquet    every operation (harness.workload.history)
    survivors.parquet  what came back after the restart, with each key's verdict
    histogram.hdr      the load's latency histogram
    ceiling.json       redis-benchmark's per-command results
    server.json        what the server said of itself: CONFIG, INFO around the fault, its log (checkers.ServerEvidence)
    logs/<server>.log  each server's log
    configs/<name>.conf the config it ran
    evidence/          what the scenario measured besides the history (harness.runner.evidence)
    data/              the servers' data (kept only with keep_data)

The local runner writes each trial's shard inside the run folder and merges it at once; a
worker writes one wherever it is told, to be merged on another machine (merge.py). A shard
travels between machines as one tar archive (`pack`, `unpack`: the cluster executor's result).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.spec import TrialSpec

SPEC = "spec.json"
RECORDS = "records.json"
HOST = "host.json"
HISTORY = "history.parquet"
SURVIVORS = "survivors.parquet"
CEILING = "ceiling.json"
EVIDENCE = "evidence"
SERVER = "server.json"


class Shard:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, path: Path, spec: TrialSpec) -> "Shard":
        shard = cls(path)
        try:
            for sub in ("logs", "configs", "data"):
                (shard.path / sub).mkdir(parents=True, exist_ok=True)
            (shard.path / SPEC).write_bytes(spec.to_json())
        except OSError as exc:
            raise HarnessError(f"cannot write the trial's results under {path}: {exc.strerror or exc}") from None
        return shard

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def configs_dir(self) -> Path:
        return self.path / "configs"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def evidence_dir(self) -> Path:
        return self.path / EVIDENCE

    def write_frame(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.path / name, index=False)

    def write_text(self, name: str, text: str) -> None:
        (self.path / name).write_text(text)

    def write_json(self, name: str, value) -> None:
        (self.path / name).write_text(json.dumps(value, indent=2, default=str) + "\n")

    def read_json(self, name: str):
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise HarnessError(f"{self.path} is not a finished results shard: {name} is missing") from None
        except ValueError as exc:
            raise HarnessError(f"{path}: not JSON ({exc})") from None

    def spec(self) -> TrialSpec:
        return TrialSpec.read(self.path / SPEC)

    def rows(self) -> list[dict]:
        return self.read_json(RECORDS)

    def host(self) -> dict:
        return self.read_json(HOST) if (self.path / HOST).is_file() else {}

    def pack(self) -> bytes:
        """The whole shard as one uncompressed tar archive (its Parquet files are compressed already)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path in sorted(self.path.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(self.path)), recursive=False)
        return buffer.getvalue()

    @classmethod
    def unpack(cls, archive: bytes, path: Path) -> "Shard":
        """A packed shard, unpacked into `path` (a new folder). The "data" filter refuses absolute
        names, links out of the folder and device files: the archive came over the network."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=False)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as opened:
            opened.extractall(path, filter="data")
        return cls(path)
