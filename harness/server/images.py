"""Getting a server image: the one asked for, pulled if absent, or built offline from a local binary.

This machine reaches no container registry, so `redis:7.4` cannot be pulled here; the harness
then builds a minimal image (FROM scratch: the binary, its companion tools and the shared
libraries `ldd` names) and says so in the output and the report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from harness.errors import HarnessError
from harness.server.binaries import (ServerBinary, find_server_binary, flavour_of_image, origin_of, probe,
                                      version_of_image)

LOCAL_REPOSITORY = "crash-matrix-local"
# Upstream images whose absence we may stand in for with a local build of the same server.
_FALLBACK_REPOSITORIES = {"redis", "library/redis", "docker.io/redis", "docker.io/library/redis",
                          "valkey/valkey", "docker.io/valkey/valkey"}


@dataclass(frozen=True)
class ResolvedImage:
    requested: str
    tag: str  # what containers run
    command: str  # the server command inside the image ("redis-server" / absolute path)
    built_locally: bool
    note: str  # one sentence for the output and the report

    def describe(self) -> dict:
        return {"image": self.requested, "image_used": self.tag, "image_built_locally": self.built_locally,
                "image_note": self.note}


def repository_of(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def can_stand_in(image: str) -> bool:
    return repository_of(image).lower() in _FALLBACK_REPOSITORIES or repository_of(image).startswith(LOCAL_REPOSITORY)


def image_of_binary(client: docker.DockerClient, path: Path) -> ResolvedImage:
    """A server named by its binary (--servers /path/to/redis-server): always built from it, since
    no upstream image is that file."""
    binary = probe(Path(path), origin_of(Path(path), "named"))
    tag = build_local_image(client, binary)
    note = f"built {tag} offline from {binary.origin} ({binary.flavour} {binary.version})"
    return ResolvedImage(str(path), tag, binary.command, True, note)


def resolve_image(client: docker.DockerClient, image: str, explicit_binary: Path | None, echo) -> ResolvedImage:
    """`image` as present, pulled, or (an upstream Redis or Valkey image) built offline from the local
    binary closest to it; an empty `image` means the binary itself (image_of_binary)."""
    if not image:
        if explicit_binary is None:
            raise HarnessError("a server needs an image or a binary")
        return image_of_binary(client, explicit_binary)
    command = f"{flavour_of_image(image)}-server"
    if repository_of(image).startswith(LOCAL_REPOSITORY):
        command = image.split("/", 1)[1].split(":", 1)[0]
    try:
        client.images.get(image)
        return ResolvedImage(image, image, command, False, f"image {image} (present locally)")
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise HarnessError(f"Docker engine error while looking up image {image}: {exc.explanation}") from None
    reason = pull_refused(image)
    if not reason:
        echo(f"image {image} is not present; pulling it")
        try:
            client.images.pull(image)
            return ResolvedImage(image, image, command, False, f"image {image} (pulled)")
        except (docker.errors.APIError, docker.errors.NotFound) as exc:
            reason = _short(getattr(exc, "explanation", None) or str(exc))
            remember_failed_pull(image)
    if not can_stand_in(image):
        raise HarnessError(f"image {image} is not present and cannot be pulled: {reason}")
    binary = find_server_binary(flavour_of_image(image), explicit_binary, version_of_image(image))
    tag = build_local_image(client, binary)
    note = (
        f"image {image} could not be pulled ({reason}); built {tag} offline from {binary.origin} "
        f"({binary.flavour} {binary.version}) and measured that instead"
    )
    return ResolvedImage(image, tag, binary.command, True, note)


PULL_ENV = "CRASH_MATRIX_PULL"  # "missing" (default): pull an absent image; "never": build offline at once
FAILED_PULLS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crash-matrix" / "failed-pulls.json"
RETRY_PULL_AFTER_S = 24 * 3600


def pull_refused(image: str) -> str:
    """Why this image is not to be pulled now ('' : pull it). A machine with no registry asks once a
    day at most: a pull that failed here is remembered, so each run does not send a lookup off the
    machine again."""
    policy = os.environ.get(PULL_ENV, "missing").strip().lower()
    if policy == "never":
        return f"pulling is off ({PULL_ENV}=never)"
    if policy not in ("missing", ""):
        raise HarnessError(f"{PULL_ENV}={policy!r}: choose missing or never")
    try:
        failed_at = json.loads(FAILED_PULLS.read_text()).get(image, 0)
    except (OSError, ValueError, AttributeError):
        return ""
    if time.time() - failed_at < RETRY_PULL_AFTER_S:
        return (f"a pull of it failed here {(time.time() - failed_at) / 3600:.1f} h ago (not retried for 24 h; "
                f"remove {FAILED_PULLS} to try again)")
    return ""


def remember_failed_pull(image: str) -> None:
    try:
        known = json.loads(FAILED_PULLS.read_text()) if FAILED_PULLS.is_file() else {}
        known[image] = time.time()
        FAILED_PULLS.parent.mkdir(parents=True, exist_ok=True)
        FAILED_PULLS.write_text(json.dumps(known, indent=2) + "\n")
    except (OSError, ValueError, TypeError):
        pass  # only a convenience: the next run asks the registry again


def _short(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:200]


def local_tag(binary: ServerBinary) -> str:
    return f"{LOCAL_REPOSITORY}/{binary.command}:{binary.version}-{binary.digest()}"


def shared_libraries(executable: Path) -> list[Path]:
    """The files the dynamic loader needs for `executable`, from ldd."""
    out = subprocess.run(["ldd", str(executable)], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        match = re.search(r"(/\S+)\s+\(0x", line)
        if match:
            libs.append(Path(match.group(1)))
    return libs


def build_local_image(client: docker.DockerClient, binary: ServerBinary) -> str:
    """Build (once: the tag names the binary's digest) a FROM-scratch image around `binary`."""
    tag = local_tag(binary)
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    executables = [(binary.path, binary.command)] + [(tool, tool.name) for tool in binary.tools()]
    with tempfile.TemporaryDirectory(prefix="crash-matrix-image-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        bindir = rootfs / "usr/local/bin"
        bindir.mkdir(parents=True)
        needed: set[Path] = set()
        for path, name in executables:
            # Debian's redis-server is a symlink to redis-check-rdb: copy the file under the
            # server's name, since the binary picks its mode from argv[0].
            shutil.copy2(path.resolve(), bindir / name)
            needed.update(shared_libraries(path))
        for lib in needed:
            target = rootfs / lib.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib.resolve(), target)
        (rootfs / "data").mkdir()
        (rootfs / "tmp").mkdir()
        (Path(tmp) / "Dockerfile").write_text(
            "FROM scratch\n"
            "COPY rootfs/ /\n"
            "ENV PATH=/usr/local/bin\n"
            "WORKDIR /data\n"
            f'ENTRYPOINT ["/usr/local/bin/{binary.command}"]\n'
        )
        try:
            client.images.build(
                path=tmp,
                tag=tag,
                rm=True,
                labels={"crash-matrix.built-from": str(binary.path), "crash-matrix.version": binary.version},
            )
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise HarnessError(f"building the local image {tag} from {binary.path} failed: {_short(str(exc))}") from None
    return tag
