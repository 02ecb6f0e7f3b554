"""Facts about the machine a trial ran on: who it is, its CPU and kernel, its disk's fsync rate.

Probed once per process and folder filesystem (a Dask worker, a local run), so a trial costs no
second of fsync probing; every shard carries the facts of the host that made it.
"""

from __future__ import annotations

import functools
import socket
from pathlib import Path

from harness.disk import probe_fsync
from harness.environment import describe_machine, filesystem_of


@functools.cache
def _probe(hostname: str, filesystem: str, directory: str) -> dict:
    return probe_fsync(directory).as_dict()


def host_facts(directory: Path, probe_disk: bool = True) -> dict:
    """environment facts of this host for trials whose data lives under `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    facts = {"host": socket.gethostname(), **describe_machine(directory)}
    if probe_disk:
        facts["disk_fsync"] = _probe(facts["host"], filesystem_of(directory), str(directory))
    return facts
