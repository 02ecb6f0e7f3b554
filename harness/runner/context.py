"""What a trial gets from whoever runs it: the servers it may start, a way to say what it is
doing, and the facts of the host it runs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.runner.servers import ServerPool


def _quiet(text: str) -> None:
    return None


@dataclass
class TrialEnv:
    pool: ServerPool
    host: dict = field(default_factory=dict)  # harness.runner.host.host_facts
    step: Callable[[str], None] = _quiet  # one line per step, for the progress display
