"""What runs for a trial: its servers, by role. Faults act on roles (the primary, a replica).

A topology is made from a `ServerFactory` (the backend and the build to run, the config, where
logs go) and the data directory of each role; the trial's fault may own one of those
directories (the power-loss faults mount a filesystem there). Leaving the topology's context
keeps every server's log and removes every server, on every path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.record import Columns
from harness.server.base import Backend, Server, ServerBuild, ServerSpec
from harness.server.net import ensure_port_free, free_port


@dataclass(frozen=True)
class ServerFactory:
    backend: Backend
    build: ServerBuild
    config_path: Path
    log_dir: Path

    def make(self, name: str, data_dir: Path, port: int | None = None, config_path: Path | None = None,
             args: tuple[str, ...] = (), sentinel: bool = False) -> Server:
        """A server called `name` (its log is `<log_dir>/<name>.log`); a fixed port must be free now.
        `config_path` replaces the persistence config (a Sentinel's own file), `args` are more
        options the harness owns (replication), `sentinel` runs the binary as a Sentinel."""
        if port:
            ensure_port_free(port)
        spec = ServerSpec(name, config_path or self.config_path, data_dir, self.log_dir / f"{name}.log",
                          port or free_port(), args=tuple(args), sentinel=sentinel)
        return self.backend.server(spec, self.build)


DataDirFor = Callable[[str], Path]  # role -> the data directory its server uses


class Topology(ABC):
    kind: ClassVar[str]
    promotes: ClassVar[bool] = False  # can another server take over from the primary (a failover)?
    columns: ClassVar[type[Columns] | None] = None  # the trials.csv columns it measures

    def __init__(self, servers: dict[str, Server]) -> None:
        self.servers = servers  # role -> server

    @property
    def primary(self) -> Server:
        return self.servers["primary"]

    def role(self, name: str) -> Server:
        return self.servers[name]

    @abstractmethod
    def start(self) -> None:
        """Start every server and return once the topology is ready."""

    def wait_promotion(self, after_ns: int, timeout_s: float) -> str | None:
        """The role of the server promoted to primary after `after_ns`, once it is (None: none was
        within the timeout, or this topology promotes nobody)."""
        return None

    def facts(self) -> Columns | None:
        """What the topology measured during the trial, as its `columns` (None: nothing)."""
        return None

    def remove(self) -> None:
        """Keep each server's log, then remove it; idempotent."""
        for server in self.servers.values():
            server.save_log()
            server.remove()

    def __enter__(self) -> "Topology":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
