"""The backends and server builds of one process, prepared once and reused by every trial.

A trial names a `ServerChoice` (backend kind, image, binary); the pool turns it into a ready
backend and build (an engine reached, an image pulled or built offline, a binary found) the
first time, says what it chose, and removes whatever is left on `cleanup`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.server.base import Backend, ServerBuild
from harness.spec import ServerChoice


class ServerPool:
    def __init__(self, run_id: str, echo: Callable[[str], None], owner: str = "") -> None:
        self.run_id = run_id
        self.echo = echo
        self.owner = owner  # labels containers with the results folder they belong to
        self._backends: dict[str, Backend] = {}
        self._auto: str | None = None  # what `auto` turned out to be
        self._builds: dict[ServerChoice, ServerBuild] = {}

    def _backend(self, kind: str) -> Backend:
        if kind == "auto":
            kind = self._auto or self._choose_auto()
        if kind not in self._backends:
            from harness.server.docker_backend import DockerBackend  # noqa: PLC0415 - the SDK only when used
            from harness.server.process import ProcessBackend  # noqa: PLC0415

            backend = DockerBackend(run_id=self.run_id, owner=self.owner) if kind == "docker" else ProcessBackend()
            backend.open(self.echo)
            self._backends[kind] = backend
        return self._backends[kind]

    def _choose_auto(self) -> str:
        from harness.server.docker_backend import connect  # noqa: PLC0415

        try:
            connect(timeout_s=3).close()
            self._auto = "docker"
        except HarnessError as exc:
            self.echo(f"{exc}; falling back to the process backend (local server processes, no containers)")
            self._auto = "process"
        return self._auto

    def get(self, choice: ServerChoice) -> tuple[Backend, ServerBuild]:
        backend = self._backend(choice.backend)
        if choice not in self._builds:
            self._builds[choice] = backend.resolve(choice.image, Path(choice.binary) if choice.binary else None,
                                                   self.echo)
        return backend, self._builds[choice]

    def describe(self, choice: ServerChoice) -> dict:
        backend, build = self.get(choice)
        return backend.describe(build)

    def cleanup(self) -> None:
        for backend in self._backends.values():
            backend.cleanup()
