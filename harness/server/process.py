"""The process backend: the server binary run as a local process in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess

from harness.server.base import Backend, Server, ServerSpec, host_benchmark_tool, run_host_benchmark, server_args
from harness.server.binaries import ServerBinary, find_server_binary


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
                                                     str(self.spec.data_dir.resolve()))],
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
        self.prefer = prefer
        self.explicit_binary = explicit_binary
        self.binary: ServerBinary | None = None
        self._servers: list[ProcessServer] = []

    def prepare(self, echo) -> None:
        self.binary = find_server_binary(self.prefer, self.explicit_binary)
        echo(f"process backend: running {self.binary.flavour}-server {self.binary.version} from {self.binary.origin}")

    def server(self, spec: ServerSpec) -> ProcessServer:
        assert self.binary is not None, "prepare() first"
        server = ProcessServer(self.binary, spec)
        self._servers.append(server)
        return server

    def describe(self) -> dict:
        assert self.binary is not None
        return {
            "backend": self.name,
            "image": None,
            "image_built_locally": False,
            "binary": str(self.binary.path),
            "binary_origin": self.binary.origin,
        }

    def cleanup(self) -> None:
        for server in self._servers:
            server.remove()
        self._servers.clear()
