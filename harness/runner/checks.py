"""Before any trial: every server of the plan made ready, and every config tried on every server.

The real server is the only authority on what it accepts. A config that a server refuses (a
directive it does not know: `appenddirname` on Redis 6.2) does not apply to that server: those
trials are skipped, with the server's own words, and the rest of the matrix runs. A config that
*every* server refuses is a mistake in the file and stops the run, as with one server. Two
entries that turn out to be the same server here (`redis:7.4` and `redis:7.2` both built offline
from the one local Redis) are measured once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import configs as config_files
from harness.runner.servers import ServerPool
from harness.spec import ServerChoice, TrialSpec


@dataclass(frozen=True)
class Skip:
    """Trials of `config` (every config when "") on `server` that will not run, and why."""

    server: str  # the ServerChoice's label
    config: str
    reason: str

    def applies(self, spec: TrialSpec) -> bool:
        return spec.server.label == self.server and self.config in ("", spec.config.name)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def line(self) -> str:
        what = f"`{self.config}` on " if self.config else ""
        return f"skipped {what}`{self.server}`: {self.reason}"


def _build_key(build) -> str:
    """What makes two builds the same server: the image that runs, or the binary's file."""
    return str(getattr(build, "tag", "") or getattr(build, "path", "")) or repr(build)


def duplicate_servers(pool: ServerPool, servers: list[ServerChoice]) -> list[Skip]:
    seen: dict[str, ServerChoice] = {}
    skips = []
    for choice in servers:
        _, build = pool.get(choice)
        key = _build_key(build)
        if key in seen:
            skips.append(Skip(choice.label, "", f"the same server as `{seen[key].label}` here ({key}); "
                                                f"measured once, as `{seen[key].label}`"))
        else:
            seen[key] = choice
    return skips


def rejected_configs(pool: ServerPool, servers: list[ServerChoice], written: list[config_files.Config],
                     echo: Callable[[str], None]) -> list[Skip]:
    """(server, config) pairs the server refused; raises the first complaint of a config every server refused."""
    refusals: dict[str, list[config_files.ConfigRejected]] = {}
    skips = []
    for choice in servers:
        backend, build = pool.get(choice)
        echo(f"checking {len(written)} config(s) against {choice.label if len(servers) > 1 else 'the server'}: "
             f"{', '.join(c.name for c in written)}")
        for config in written:
            config_files.read_check(config)
            try:
                config_files.server_check(backend, config, build)
            except config_files.ConfigRejected as exc:
                refusals.setdefault(config.name, []).append(exc)
                skips.append(Skip(choice.label, config.name, str(exc)))
    for config in written:
        if len(refusals.get(config.name, ())) == len(servers):
            raise refusals[config.name][0]
    return skips


def check_plan(pool: ServerPool, specs: list[TrialSpec], configs_folder: Path, configs: list,
               echo: Callable[[str], None]) -> list[Skip]:
    """Every server ready and every config checked on it; returns what will not run, said as it is found."""
    written = [config_files.write_config(c, configs_folder) for c in configs]
    servers = list(dict.fromkeys(spec.server for spec in specs))
    skips = duplicate_servers(pool, servers)
    duplicates = {skip.server for skip in skips}
    skips += rejected_configs(pool, [s for s in servers if s.label not in duplicates], written, echo)
    for skip in skips:
        echo(skip.line)
    return skips


def without(specs: list[TrialSpec], skips: list[Skip]) -> list[TrialSpec]:
    return [spec for spec in specs if not any(skip.applies(spec) for skip in skips)]
