"""Persistence configs: one redis.conf fragment per file in configs/, the file name is the name.

Every selected config is checked before any trial starts, first by reading it (settings the
harness owns may not be set) and then by the real server, which is the only authority on what
it accepts: its own complaint is reported with the file and the line.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, ServerExited
from harness.server.base import Backend, ServerBuild, ServerSpec
from harness.server.logs import parse_config_complaint
from harness.server.net import free_port
from harness.spec import ConfigSpec

# The harness sets these on the command line (see server.base.server_args) or needs them
# unset; a fragment that sets them would be silently overridden or would break the trial.
OWNED_DIRECTIVES = {
    "port": "the harness picks the port (use --port)",
    "bind": "the harness binds the server to 127.0.0.1",
    "dir": "the harness gives each trial its own data directory",
    "daemonize": "the harness runs the server in the foreground",
    "logfile": "the harness keeps the server log (stdout) with the trial",
    "include": "a config is one self-contained file",
}


# A comment line `# opt-in: <why>` keeps a config out of the default selection (it runs when
# named, or with `--configs all`): for configs that cost time and matter only for some servers.
_OPT_IN = re.compile(r"^\s*#\s*opt-in\s*:?\s*(.*)$", re.MULTILINE | re.IGNORECASE)
ALL = "all"


def opt_in_reason(text: str) -> str:
    """Why a config is opt-in ('' when it is in the default selection)."""
    match = _OPT_IN.search(text)
    return (match.group(1).strip() or "opt-in") if match else ""


@dataclass(frozen=True)
class Config:
    name: str
    path: Path
    description: str  # the file's first comment line
    source: str = ""  # the user's file this one was copied from, for messages ("": `path` is it)
    opt_in: str = ""  # why it is left out of the default selection ("": it is in it)

    @property
    def where(self) -> str:
        """The file to name in a message: the user's, not a copy."""
        return self.source or str(self.path)

    def text(self) -> str:
        return self.path.read_text()

    def spec(self) -> ConfigSpec:
        """The config as a trial carries it: its text, so a trial needs no copy of the folder."""
        return ConfigSpec(self.name, self.text(), self.description, source=self.where)


def discover(configs_dir: Path) -> dict[str, Config]:
    if not configs_dir.is_dir():
        raise HarnessError(f"configs directory {configs_dir} does not exist")
    found = {}
    for path in sorted(configs_dir.glob("*.conf")):
        text = path.read_text(errors="replace")
        found[path.stem] = Config(path.stem, path.resolve(), description_of(text), opt_in=opt_in_reason(text))
    if not found:
        raise HarnessError(f"no *.conf files in {configs_dir}")
    return found


def description_of(text: str) -> str:
    """A config's description: its first line, when that is a comment (as every file in configs/ has it)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()
        if stripped:
            break
    return ""


@dataclass(frozen=True)
class Persistence:
    """What a fragment asks the server to persist, read from its text (the server's built-in
    defaults where it is silent: save points on, AOF off, `appendfsync everysec`)."""

    rdb: bool
    aof: bool
    appendfsync: str


def persistence_of(text: str) -> Persistence:
    save: list[str] | None = None
    appendonly, appendfsync = "no", "everysec"
    for line in text.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if not words:
            continue
        directive, args = words[0].lower(), words[1:]
        if directive == "save":
            save = [a for a in args if a] if save is None else save + [a for a in args if a]
        elif directive == "appendonly" and args:
            appendonly = args[0].lower()
        elif directive == "appendfsync" and args:
            appendfsync = args[0].lower()
    return Persistence(rdb=save is None or bool(save), aof=appendonly == "yes", appendfsync=appendfsync)


def write_config(spec: ConfigSpec, folder: Path) -> Config:
    """A config carried as text, written where a server can read it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}.conf"
    path.write_text(spec.text)
    return Config(spec.name, path.resolve(), spec.description or description_of(spec.text), spec.source)


def select(available: dict[str, Config], names: list[str] | None) -> list[Config]:
    """The configs to run, in the order given; none given: every config not marked opt-in, sorted by
    name; `all`: every config."""
    if not names:
        return [config for config in available.values() if not config.opt_in]
    if names == [ALL]:
        return list(available.values())
    unknown = [name for name in names if name not in available]
    if unknown:
        raise HarnessError(
            f"unknown config {', '.join(repr(n) for n in unknown)}: "
            f"available are {', '.join(available)} (files in {next(iter(available.values())).path.parent})"
        )
    return [available[name] for name in dict.fromkeys(names)]


def read_check(config: Config) -> None:
    """Refuse settings the harness owns, and lines that do not even split into words."""
    for number, line in enumerate(config.text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = shlex.split(stripped)
        except ValueError as exc:
            raise HarnessError(f"{config.where}:{number}: '{stripped}': {exc}") from None
        directive = words[0].lower()
        if directive in OWNED_DIRECTIVES:
            raise HarnessError(f"{config.where}:{number}: '{stripped}': do not set {directive}; "
                               f"{OWNED_DIRECTIVES[directive]}")


class ConfigRejected(HarnessError):
    """The server refused a line of the config (a directive or value it does not know)."""


def server_check(backend: Backend, config: Config, build: ServerBuild | None = None) -> None:
    """Start the real server on the config in a scratch directory: does it accept every line?"""
    scratch = Path(tempfile.mkdtemp(prefix=f"crash-matrix-check-{config.name}-"))
    spec = ServerSpec(f"check-{config.name}", config.path, scratch / "data", scratch / "server.log", free_port())
    spec.data_dir.mkdir()
    server = backend.server(spec, build)
    try:
        server.start()
    except ServerExited as exc:
        complaint = parse_config_complaint(server.log_text())
        if complaint:
            raise ConfigRejected(f"{config.where}:{complaint.line}: '{complaint.text}': {complaint.reason} "
                                 f"(the server refused it)") from None
        raise HarnessError(f"{config.where}: the server would not start on it: {exc}") from None
    finally:
        server.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def check_all(backend: Backend, configs: list[Config], build: ServerBuild | None = None) -> None:
    for config in configs:
        read_check(config)
    for config in configs:
        server_check(backend, config, build)
