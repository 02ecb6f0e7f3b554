"""Server lifecycle: start, wait ready, kill, restart; a Docker backend and a process backend."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.server.base import Backend, Server, ServerBuild, ServerIdentity, ServerSpec, identify
from harness.server.binaries import flavour_of_image
from harness.server.net import LOOPBACK, ensure_port_free, free_port

__all__ = ["Backend", "LOOPBACK", "Server", "ServerBuild", "ServerIdentity", "ServerSpec", "choose_backend",
           "ensure_port_free", "free_port", "identify"]


def choose_backend(kind: str, image: str, run_id: str, server_bin: Path | None, echo, owner: str = "") -> Backend:
    """`auto` takes Docker when an engine answers, else local processes, and says which."""
    from harness.server.docker_backend import DockerBackend, connect  # noqa: PLC0415 - keep import light
    from harness.server.process import ProcessBackend  # noqa: PLC0415

    if kind == "docker":
        return DockerBackend(image, run_id, server_bin, owner=owner)
    if kind == "process":
        return ProcessBackend(flavour_of_image(image), server_bin)
    if kind != "auto":
        raise HarnessError(f"unknown backend {kind!r}: choose auto, docker or process")
    try:
        connect(timeout_s=3).close()
        return DockerBackend(image, run_id, server_bin, owner=owner)
    except HarnessError as exc:
        echo(f"{exc}; falling back to the process backend (local server processes, no containers)")
        return ProcessBackend(flavour_of_image(image), server_bin)
