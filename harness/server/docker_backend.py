"""The Docker backend: one container per trial, host networking, data bind-mounted at /data."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import docker
import docker.errors
import requests

from harness.errors import HarnessError
from harness.server.base import Backend, Server, ServerSpec, host_benchmark_tool, run_host_benchmark, server_args
from harness.server.images import ResolvedImage, resolve_image

RUN_LABEL = "crash-matrix.run"
PID_LABEL = "crash-matrix.pid"
OWNER_LABEL = "crash-matrix.owner"  # the results folder a container's trial writes to
CONFIG_MOUNT_DIR = "/etc/crash-matrix"
DATA_MOUNT = "/data"


def connect(timeout_s: float = 10.0) -> docker.DockerClient:
    """A client for the engine DOCKER_HOST names (or the default socket), or a clear error."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        reason = str(exc).split("(Caused by", 1)[0].strip() or type(exc).__name__
        raise HarnessError(f"Docker engine not reachable at {where}: {reason[:160]}") from None


def engine_reachable() -> bool:
    try:
        connect(timeout_s=3).close()
        return True
    except HarnessError:
        return False


class DockerServer(Server):
    def __init__(self, client: docker.DockerClient, image: ResolvedImage, run_id: str, spec: ServerSpec,
                 owner: str = "", **kw) -> None:
        super().__init__(spec, **kw)
        self.engine = client
        self.image = image
        self.run_id = run_id
        self.owner = owner
        self.container = None

    def _launch(self) -> None:
        own_config = self.spec.config_in_data_dir()  # a Sentinel's: it rewrites it, so not read-only
        config_in_container = f"{DATA_MOUNT}/{own_config}" if own_config else \
            f"{CONFIG_MOUNT_DIR}/{self.spec.config_path.name}"
        volumes = {str(self.spec.data_dir.resolve()): {"bind": DATA_MOUNT, "mode": "rw"}}
        if not own_config:
            volumes[str(self.spec.config_path.resolve())] = {"bind": config_in_container, "mode": "ro"}
        try:
            self.container = self.engine.containers.run(
                self.image.tag,
                entrypoint=[self.image.command],
                command=server_args(config_in_container, self.port, DATA_MOUNT, self.spec),
                # Docker names allow [a-zA-Z0-9_.-]: a fault's name may hold + : , = (sequences, parameters).
                name=re.sub(r"[^a-zA-Z0-9_.-]", "-", f"crash-matrix-{self.run_id}-{self.spec.name}"),
                detach=True,
                network_mode="host",
                user=f"{os.getuid()}:{os.getgid()}",  # files in the data dir belong to the caller
                working_dir=DATA_MOUNT,
                labels={RUN_LABEL: self.run_id, PID_LABEL: str(os.getpid()), OWNER_LABEL: self.owner},
                volumes=volumes,
            )
        except docker.errors.APIError as exc:
            raise HarnessError(f"starting a container from {self.image.tag} failed: {exc.explanation}") from None

    def _relaunch(self) -> None:
        # The same container on the same bind-mounted data, as `docker start` would do.
        self.container.start()

    def kill(self) -> None:
        # SIGKILL to PID 1 of the container: the kernel then kills every process in its PID
        # namespace, BGSAVE children included. Never `docker stop`: SIGTERM makes Redis save.
        if self.container is None:
            return
        try:
            self.container.kill(signal="SIGKILL")
        except docker.errors.APIError:
            pass  # already exited
        self.container.wait(timeout=60)

    def signal(self, signum: int) -> None:
        """Send the signal and return at once. The engine's kill with SIGKILL waits for the container to
        exit, which a process stuck in a stalled fsync cannot do until the fsync returns (a power cut
        must come before that): SIGKILL goes to the container's PID 1 from here, as `kill -9 <pid>` on
        the host would (the container runs as this user; its kernel namespace dies with PID 1)."""
        if self.container is None:
            return
        if signum == signal.SIGKILL:
            try:
                self.container.reload()
                pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
                if pid > 0:
                    os.kill(pid, signum)
                    return
            except (docker.errors.APIError, ProcessLookupError, PermissionError):
                pass  # gone already, or not ours to signal: the engine's kill below
        try:
            self.container.kill(signal=signal.Signals(signum).name)
        except docker.errors.APIError:
            pass  # not running (it exited on its own): nothing to signal

    def is_running(self) -> bool:
        if self.container is None:
            return False
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return False
        return self.container.status == "running"

    def log_text(self) -> str:
        if self.container is None:
            return ""
        try:
            return self.container.logs(stdout=True, stderr=True).decode(errors="replace")
        except docker.errors.APIError:
            return ""

    def run_benchmark(self, args: list[str], timeout_s: float = 120.0) -> tuple[str, str]:
        """The benchmark inside the container (the one shipped with the image), else the host's:
        with host networking both reach the server on 127.0.0.1."""
        tool = self.image.command.rsplit("-", 1)[0] + "-benchmark"
        try:
            code, output = self.container.exec_run([tool, *args], demux=True)
            if code == 0:
                return f"{tool} in {self.image.tag}", (output[0] or b"").decode()
        except docker.errors.APIError:
            pass  # no such binary in this image
        return run_host_benchmark(host_benchmark_tool(), args, timeout_s)

    def remove(self) -> None:
        if self.container is None:
            return
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        self.container = None


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, image: str = "redis:7.4", run_id: str = "", explicit_binary: Path | None = None,
                 owner: str = "") -> None:
        super().__init__()
        self.requested_image = image
        self.run_id = run_id
        self.explicit_binary = explicit_binary
        self.owner = owner  # labels containers, so concurrent runs can tell theirs apart
        self.client: docker.DockerClient | None = None
        self._resolved: dict[tuple[str, str], ResolvedImage] = {}

    @property
    def image(self) -> ResolvedImage | None:
        return self.default_build  # type: ignore[return-value]

    def open(self, echo) -> None:
        """Reach the engine and remove containers whose harness process died."""
        if self.client is None:
            self.client = connect()
            reap_orphans(self.client)

    def prepare(self, echo) -> None:
        self.open(echo)
        self.default_build = self.resolve(self.requested_image, self.explicit_binary, echo)

    def resolve(self, image: str, binary: Path | None, echo) -> ResolvedImage:
        self.open(echo)
        key = (image, str(binary or ""))
        if key not in self._resolved:
            self._resolved[key] = resolve_image(self.client, image, Path(binary) if binary else None, echo)
            echo(f"docker backend: {self._resolved[key].note}")
        return self._resolved[key]

    def make_server(self, build: ResolvedImage, spec: ServerSpec) -> DockerServer:
        assert self.client is not None, "prepare() first"
        return DockerServer(self.client, build, self.run_id, spec, owner=self.owner)

    def describe(self, build: ResolvedImage | None = None) -> dict:
        assert self.client is not None
        return {"backend": self.name, **(build or self.image).describe(),
                "docker_version": self.client.version().get("Version")}

    def cleanup(self) -> None:
        if self.client is None:
            return
        remove_run_containers(self.client, self.run_id)


def _remove(containers) -> int:
    """Force-remove these containers; one already gone (removed meanwhile) is not an error."""
    removed = 0
    for container in containers:
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed


def remove_run_containers(client: docker.DockerClient, run_id: str | None = None) -> int:
    """Remove the containers of one run, or (run_id None) of every crash-matrix run."""
    label = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    return _remove(client.containers.list(all=True, filters={"label": label}))


def reap_orphans(client: docker.DockerClient) -> int:
    """Remove containers of earlier runs whose harness process is gone (killed with -9, say)."""
    orphans = []
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        pid = container.labels.get(PID_LABEL, "")
        if not (pid.isdigit() and _alive(int(pid))):
            orphans.append(container)
    return _remove(orphans)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
