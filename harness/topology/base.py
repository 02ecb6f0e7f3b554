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

from harness.server.base import Backend, Server, ServerBuild, ServerSpec
from harness.server.net import ensure_port_free, free_port


@dataclass(frozen=True)
class ServerFactory:
    backend: Backend
    build: ServerBuild
    config_path: Path
    log_dir: Path

    def make(self, name: str, data_dir: Path, port: int | None = None) -> Server:
        """A server called `name` (its log is `<log_dir>/<name>.log`); a fixed port must be free now."""
        if port:
            ensure_port_free(port)
        spec = ServerSpec(name, self.config_path, data_dir, self.log_dir / f"{name}.log", port or free_port())
        return self.backend.server(spec, self.build)


DataDirFor = Callable[[str], Path]  # role -> the data directory its server uses


class Topology(ABC):
    kind: ClassVar[str]

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

    def remove(self) -> None:
        """Keep each server's log, then remove it; idempotent."""
        for server in self.servers.values():
            server.save_log()
            server.remove()

    def __enter__(self) -> "Topology":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
