"""The Docker backend: one container per trial, host networking, data bind-mounted at /data."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import docker.errors
import requests

from harness.errors import HarnessError
from harness.server.base import Backend, Server, ServerSpec, host_benchmark_tool, run_host_benchmark, server_args
from harness.server.images import ResolvedImage, resolve_image

RUN_LABEL = "crash-matrix.run"
PID_LABEL = "crash-matrix.pid"
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
    def __init__(self, client: docker.DockerClient, image: ResolvedImage, run_id: str, spec: ServerSpec, **kw) -> None:
        super().__init__(spec, **kw)
        self.engine = client
        self.image = image
        self.run_id = run_id
        self.container = None

    def _launch(self) -> None:
        config_in_container = f"{CONFIG_MOUNT_DIR}/{self.spec.config_path.name}"
        try:
            self.container = self.engine.containers.run(
                self.image.tag,
                entrypoint=[self.image.command],
                command=server_args(config_in_container, self.port, DATA_MOUNT),
                name=f"crash-matrix-{self.run_id}-{self.spec.name}".replace("+", "-"),
                detach=True,
                network_mode="host",
                user=f"{os.getuid()}:{os.getgid()}",  # files in the data dir belong to the caller
                working_dir=DATA_MOUNT,
                labels={RUN_LABEL: self.run_id, PID_LABEL: str(os.getpid())},
                volumes={
                    str(self.spec.data_dir.resolve()): {"bind": DATA_MOUNT, "mode": "rw"},
                    str(self.spec.config_path.resolve()): {"bind": config_in_container, "mode": "ro"},
                },
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

    def __init__(self, image: str, run_id: str, explicit_binary: Path | None = None) -> None:
        self.requested_image = image
        self.run_id = run_id
        self.explicit_binary = explicit_binary
        self.client: docker.DockerClient | None = None
        self.image: ResolvedImage | None = None

    def prepare(self, echo) -> None:
        self.client = connect()
        reap_orphans(self.client)
        self.image = resolve_image(self.client, self.requested_image, self.explicit_binary, echo)
        echo(f"docker backend: {self.image.note}")

    def server(self, spec: ServerSpec) -> DockerServer:
        assert self.client is not None and self.image is not None, "prepare() first"
        return DockerServer(self.client, self.image, self.run_id, spec)

    def describe(self) -> dict:
        assert self.client is not None and self.image is not None
        version = self.client.version()
        return {
            "backend": self.name,
            "image": self.image.requested,
            "image_used": self.image.tag,
            "image_built_locally": self.image.built_locally,
            "image_note": self.image.note,
            "docker_version": version.get("Version"),
        }

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
