"""A server's lifecycle, the same for every backend: start, wait ready, kill, restart, remove.

Backends (Docker containers, local processes) differ only in how a server is started and
signalled; readiness and error wording live here once, log reading in `logs.py`. A backend is
not bound to one server: `resolve` turns a `ServerChoice` (an image, a binary) into a
`ServerBuild` it can run, so one run can measure several servers side by side.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.errors import HarnessError, ServerExited, ServerNotReady
from harness.server.logs import exit_reason, tail
from harness.server.net import LOOPBACK, ensure_port_free, free_port  # noqa: F401 - the server API

READY_POLL_S = 0.005
DEFAULT_READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServerSpec:
    """What one server needs: its config fragment, its data directory, its port, its log."""

    name: str  # unique within a run, e.g. "aof-always__kill9__1"
    config_path: Path  # the redis.conf fragment on the host
    data_dir: Path  # host directory: the server's `dir` (bind-mounted at /data in Docker)
    log_path: Path  # where the server's log is kept with the trial
    port: int
    args: tuple[str, ...] = ()  # more options the harness owns (replication), after its own
    sentinel: bool = False  # run as a Sentinel (the same binary, `--sentinel`)

    def config_in_data_dir(self) -> Path | None:
        """The config's path relative to the data directory when it lives there: a Sentinel
        rewrites its own config file, so it must be the server's to write (not mounted read-only)."""
        try:
            return self.config_path.resolve().relative_to(self.data_dir.resolve())
        except ValueError:
            return None


def server_args(config_path: str, port: int, data_dir: str, spec: ServerSpec | None = None) -> list[str]:
    """Command-line options after the config file: the harness owns these settings.

    Redis appends command-line options after the file's lines, so they win over the file;
    the config check refuses fragments that set them anyway, so nothing is overridden silently.
    A spec's own `args` (a replica's `--replicaof`) follow, and `--sentinel` for a Sentinel.
    """
    args = [config_path, "--port", str(port), "--bind", LOOPBACK, "--dir", data_dir, "--daemonize", "no"]
    if spec is not None:
        args += [*spec.args, *(["--sentinel"] if spec.sentinel else [])]
    return args


def admin_client(port: int, timeout_s: float = 5.0) -> redis.Redis:
    """A plain client for admin and readback; never retries (a retry could hide a crash)."""
    return redis.Redis(
        host=LOOPBACK,
        port=port,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 1.0),
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


def host_benchmark_tool(near: Path | None = None, flavour: str = "redis") -> Path | None:
    """redis-benchmark / valkey-benchmark: next to the server binary, else on PATH."""
    names = [f"{flavour}-benchmark", "redis-benchmark", "valkey-benchmark"]
    if near is not None:
        for name in names:
            if (near / name).exists():
                return near / name
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def run_host_benchmark(tool: Path | None, args: list[str], timeout_s: float) -> tuple[str, str]:
    if tool is None:
        raise HarnessError("no redis-benchmark or valkey-benchmark on this machine (Debian: apt install redis-tools)")
    proc = subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise HarnessError(f"{tool} failed: {(proc.stderr or proc.stdout).strip()[:200]}")
    return str(tool), proc.stdout


class ServerBuild(Protocol):
    """What a backend runs: an image (Docker) or a binary (processes)."""

    @property
    def note(self) -> str:
        """One sentence for the output and the report: what runs and where it came from."""

    def describe(self) -> dict:
        """Facts for environment.json."""


class Server(ABC):
    """One server on loopback. Subclasses implement the backend-specific verbs."""

    host = LOOPBACK

    def __init__(self, spec: ServerSpec, ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S) -> None:
        self.spec = spec
        self.ready_timeout_s = ready_timeout_s

    @property
    def port(self) -> int:
        return self.spec.port

    # -- backend verbs -------------------------------------------------------------------
    @abstractmethod
    def _launch(self) -> None:
        """Start the server (first start) and return at once."""

    @abstractmethod
    def _relaunch(self) -> None:
        """Start the same server again on the same data and return at once."""

    @abstractmethod
    def kill(self) -> None:
        """SIGKILL the server and everything it forked (a BGSAVE child must not live on)."""

    @abstractmethod
    def signal(self, signum: int) -> None:
        """Send a signal to the server's process (SIGSTOP / SIGCONT pause and resume it)."""

    @abstractmethod
    def is_running(self) -> bool: ...

    @abstractmethod
    def log_text(self) -> str:
        """The server's whole log so far (all starts)."""

    @abstractmethod
    def remove(self) -> None:
        """Stop and delete whatever this server holds (container, process); idempotent."""

    @abstractmethod
    def run_benchmark(self, args: list[str], timeout_s: float = 120.0) -> tuple[str, str]:
        """Run redis-benchmark (the one shipped with this server where there is one) with
        `args`; returns (which tool ran, its stdout). Raises HarnessError if none can run."""

    # -- shared behaviour ------------------------------------------------------------------
    def start(self) -> float:
        """Start and wait until ready; returns the seconds from the call to ready."""
        began = time.perf_counter()
        self._launch()
        self.wait_ready()
        return time.perf_counter() - began

    def restart(self) -> float:
        """Start again on the same data; returns recovery time (restart call to ready)."""
        began = time.perf_counter()
        self._relaunch()
        self.wait_ready()
        return time.perf_counter() - began

    def wait_ready(self) -> None:
        """Ready means: PING answers and INFO persistence shows loading:0 (a Sentinel loads
        nothing: PING is enough)."""
        deadline = time.monotonic() + self.ready_timeout_s
        client = admin_client(self.port, timeout_s=2.0)
        try:
            while True:
                if not self.is_running():
                    log = self.log_text()
                    raise ServerExited(f"server {self.spec.name} exited: {exit_reason(log)}", tail(log))
                try:
                    client.ping()
                    if self.spec.sentinel or client.info("persistence").get("loading") == 0:
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, redis.ResponseError):
                    pass
                if time.monotonic() > deadline:
                    raise ServerNotReady(
                        f"server {self.spec.name} on port {self.port} was not ready within "
                        f"{self.ready_timeout_s:.0f} s; last log line: {tail(self.log_text(), 1)}"
                    )
                time.sleep(READY_POLL_S)
        finally:
            client.close()

    def client(self, timeout_s: float = 5.0) -> redis.Redis:
        return admin_client(self.port, timeout_s)

    def save_log(self) -> None:
        """Keep the server's log with the trial (called before the server is removed)."""
        try:
            text = self.log_text()
        except Exception:  # the log is evidence, but never worth failing cleanup for
            return
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.spec.log_path.write_text(text)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.save_log()
        self.remove()


@dataclass(frozen=True)
class ServerIdentity:
    """What was actually measured, from INFO server."""

    name: str  # "redis" or "valkey"
    version: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def identify(client: redis.Redis) -> ServerIdentity:
    info = client.info("server")
    name = str(info.get("server_name") or "redis")
    version = str(info.get(f"{name}_version") or info.get("redis_version") or "unknown")
    return ServerIdentity(name=name, version=version)


class Backend(ABC):
    """Makes servers of one kind (containers, processes) from the builds it resolves."""

    name: str

    def __init__(self) -> None:
        self.default_build: ServerBuild | None = None

    def open(self, echo) -> None:
        """Check the backend works (an engine reachable); raise HarnessError."""

    @abstractmethod
    def prepare(self, echo) -> None:
        """open(), then resolve the default build; raise HarnessError."""

    @abstractmethod
    def resolve(self, image: str, binary: Path | None, echo) -> ServerBuild:
        """The build for this image or binary (pulled, found or built offline); raise HarnessError."""

    @abstractmethod
    def make_server(self, build: ServerBuild, spec: ServerSpec) -> Server: ...

    def server(self, spec: ServerSpec, build: ServerBuild | None = None) -> Server:
        build = build or self.default_build
        assert build is not None, "prepare() first, or give a build"
        return self.make_server(build, spec)

    @abstractmethod
    def describe(self, build: ServerBuild | None = None) -> dict:
        """Facts for environment.json and the report (image, binary, engine version...)."""

    def cleanup(self) -> None:
        """Remove anything of this run that is still here (called on every exit path)."""
