"""The process backend: the server binary run as a local process in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from harness.server.base import Backend, Server, ServerSpec, host_benchmark_tool, run_host_benchmark, server_args
from harness.server.binaries import ServerBinary, find_server_binary, flavour_of_image, version_of_image


class ProcessServer(Server):
    def __init__(self, binary: ServerBinary, spec: ServerSpec, **kwargs) -> None:
        super().__init__(spec, **kwargs)
        self.binary = binary
        self._proc: subprocess.Popen | None = None

    def _spawn(self) -> None:
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The log is opened in append mode, so the restart's output follows the crash's.
        with open(self.spec.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                # Absolute paths: the server runs with its data directory as working directory.
                [str(self.binary.path), *server_args(str(self.spec.config_path.resolve()), self.port,
                                                     str(self.spec.data_dir.resolve()), self.spec)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.spec.data_dir,
                # Its own session and process group: kill() signals the group, so a BGSAVE or
                # rewrite child dies with its parent instead of renaming a dump after the crash.
                start_new_session=True,
            )

    _launch = _spawn
    _relaunch = _spawn

    def kill(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()

    def signal(self, signum: int) -> None:
        # The whole group: a BGSAVE child stalls (or resumes) with its parent.
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signum)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.spec.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def run_benchmark(self, args: list[str], timeout_s: float = 120.0) -> tuple[str, str]:
        tool = host_benchmark_tool(self.binary.path.parent, self.binary.flavour)
        return run_host_benchmark(tool, args, timeout_s)

    def save_log(self) -> None:
        pass  # the process writes its log straight to spec.log_path

    def remove(self) -> None:
        self.kill()
        self._proc = None


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, prefer: str = "redis", explicit_binary=None) -> None:
        super().__init__()
        self.prefer = prefer
        self.explicit_binary = explicit_binary
        self._servers: list[ProcessServer] = []

    @property
    def binary(self) -> ServerBinary | None:
        return self.default_build  # type: ignore[return-value]

    def prepare(self, echo) -> None:
        self.default_build = self.resolve(f"{self.prefer}-server", self.explicit_binary, echo)

    def resolve(self, image: str, binary: Path | None, echo) -> ServerBinary:
        """The binary named, else the local one closest to the image (flavour, then version: `redis:6.2`
        runs a local Redis 6.2 when there is one)."""
        found = find_server_binary(flavour_of_image(image), Path(binary) if binary else None,
                                   version_of_image(image))
        echo(f"process backend: {found.note}")
        return found

    def make_server(self, build: ServerBinary, spec: ServerSpec) -> ProcessServer:
        server = ProcessServer(build, spec)
        self._servers.append(server)
        return server

    def describe(self, build: ServerBinary | None = None) -> dict:
        return {"backend": self.name, **(build or self.binary).describe()}

    def cleanup(self) -> None:
        for server in self._servers:
            server.remove()
        self._servers.clear()
