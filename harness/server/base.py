"""A server's lifecycle, the same for every backend: start, wait ready, kill, restart, remove.

Backends (Docker containers, local processes) differ only in how a server is started and
signalled; readiness, log reading and error wording live here once.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.errors import HarnessError, ServerExited, ServerNotReady

LOOPBACK = "127.0.0.1"
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


def server_args(config_path: str, port: int, data_dir: str) -> list[str]:
    """Command-line options after the config file: the harness owns these settings.

    Redis appends command-line options after the file's lines, so they win over the file;
    the config check refuses fragments that set them anyway, so nothing is overridden silently.
    """
    return [config_path, "--port", str(port), "--bind", LOOPBACK, "--dir", data_dir, "--daemonize", "no"]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise HarnessError(f"port {port} on {LOOPBACK} is busy ({exc.strerror}); choose another with --port") from None


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


_BUSY_PORT = re.compile(r"Could not create server TCP listening socket .*?:(\d+): bind: Address already in use")
_CONFIG_ERROR = re.compile(
    r"FATAL CONFIG FILE ERROR.*?\n\s*Reading the configuration file, at line (\d+)\n\s*>>> '(.*?)'\n\s*(.+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class ConfigComplaint:
    line: int
    text: str
    reason: str


def parse_config_complaint(log: str) -> ConfigComplaint | None:
    """The server's own complaint about its config file, if the log holds one."""
    match = _CONFIG_ERROR.search(log)
    if not match:
        return None
    return ConfigComplaint(int(match.group(1)), match.group(2), match.group(3).strip().splitlines()[0])


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


_STARTUP = re.compile(r"^.*oO0OoO0OoO0Oo \w+ is starting", re.MULTILINE)  # Redis and Valkey, every start
_TRUNCATED_AOF = re.compile(r"Truncating the AOF (\S+) at offset (\d+)")


def last_start(log: str) -> str:
    """The part of a server log written by its most recent start."""
    starts = list(_STARTUP.finditer(log))
    return log[starts[-1].start():] if starts else log


def truncated_aof(log: str) -> str:
    """'<file> at offset <n>' when the server cut a torn AOF tail while loading, else ''."""
    match = _TRUNCATED_AOF.search(log)
    return f"{match.group(1)} at offset {match.group(2)}" if match else ""


def tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def exit_reason(log: str) -> str:
    """One line that says why a server stopped, from its log (the last line that explains)."""
    busy = _BUSY_PORT.search(log)
    if busy:
        return f"port {busy.group(1)} on {LOOPBACK} is busy (Address already in use)"
    complaint = parse_config_complaint(log)
    if complaint:
        return f"config line {complaint.line} '{complaint.text}': {complaint.reason}"
    for line in reversed(log.strip().splitlines()):
        if "#" in line or "FATAL" in line or "Bad file format" in line or "rror" in line:
            return line.split(" # ", 1)[-1].strip()
    last = log.strip().splitlines()
    return last[-1].strip() if last else "no log output"


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
        """Ready means: PING answers and INFO persistence shows loading:0."""
        deadline = time.monotonic() + self.ready_timeout_s
        client = admin_client(self.port, timeout_s=2.0)
        try:
            while True:
                if not self.is_running():
                    log = self.log_text()
                    raise ServerExited(f"server {self.spec.name} exited: {exit_reason(log)}", tail(log))
                try:
                    client.ping()
                    if client.info("persistence").get("loading") == 0:
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
    """Makes servers of one kind and says what it is for the environment record."""

    name: str

    @abstractmethod
    def prepare(self, echo) -> None:
        """Check the backend works (engine reachable, image present or built); raise HarnessError."""

    @abstractmethod
    def server(self, spec: ServerSpec) -> Server: ...

    @abstractmethod
    def describe(self) -> dict:
        """Facts for environment.json and the report (image, binary, engine version...)."""

    def cleanup(self) -> None:
        """Remove anything of this run that is still here (called on every exit path)."""
