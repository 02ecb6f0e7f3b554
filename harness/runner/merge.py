"""Merging a trial's shard into the run folder: its files where the report looks for them, its
rows appended to the scenario's table, its host added to environment.json's hosts.

The same for a shard written in this process and one a worker wrote on another machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.results import RunDir
from harness.runner import shard as files
from harness.runner.shard import Shard

# shard file -> run folder file, per trial
PLACES = {
    files.SPEC: "specs/{trial_id}.json",  # kept: a trial can be re-judged or rerun from it
    files.HISTORY: "histories/{trial_id}.parquet",
    files.SURVIVORS: "survivors/{trial_id}.parquet",
    "histogram.hdr": "histograms/{trial_id}.hdr",
    files.CEILING: "ceilings/{trial_id}.json",
    files.EVIDENCE: "evidence/{trial_id}",  # a folder: the scenario's extra evidence (evicted keys...)
    files.SERVER: "server/{trial_id}.json",  # what the server said of itself (reaction, loss bound)
}
HOST_KEYS = ("host", "kernel", "os", "filesystem", "cpu_count", "cpu_model", "python", "disk_fsync")


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    shutil.move(str(source), str(target))


def merge(shard: Shard, run: RunDir) -> list[dict]:
    """Move the shard's files into `run`, append its rows, and remove the shard; returns the rows."""
    trial_id = shard.spec().trial_id
    for name, place in PLACES.items():
        if (shard.path / name).exists():
            _move(shard.path / name, run.path / place.format(trial_id=trial_id))
    keep_logs(shard, run)
    for config in sorted(shard.configs_dir.glob("*.conf")):
        if not (run.path / "configs" / config.name).exists():
            _move(config, run.path / "configs" / config.name)
    if shard.data_dir.is_dir() and any(shard.data_dir.iterdir()):
        _move(shard.data_dir, run.path / "data" / trial_id)
    rows = shard.rows()
    add_host(run, shard.host())
    run.add_rows(rows)
    shutil.rmtree(shard.path, ignore_errors=True)
    return rows


def keep_logs(shard: Shard, run: RunDir) -> None:
    """Only the logs of a shard whose trial did not finish (the rest is incomplete)."""
    for log in sorted(shard.logs_dir.glob("*.log")):
        _move(log, run.path / "logs" / log.name)


def add_host(run: RunDir, host: dict) -> None:
    """environment.json lists every machine that ran a trial and every server measured, once each."""
    if not host:
        return
    environment = run.environment()
    changed = False
    hosts = environment.setdefault("hosts", [])
    facts = {k: host[k] for k in HOST_KEYS if k in host}
    if not any(h.get("host") == facts.get("host") for h in hosts):
        hosts.append(facts)
        changed = True
    server = host.get("server")
    servers = environment.setdefault("servers", [])
    if server and server not in servers:
        servers.append(server)
        if not environment.get("server"):  # the first server measured, as older reports read it
            environment.update(server=server.get("name"), server_version=server.get("version"))
        changed = True
    if changed:
        run.write_environment(environment)
