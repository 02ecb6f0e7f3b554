"""What breaks the server. Each fault is a name and an action on a running server."""

from __future__ import annotations

from abc import ABC, abstractmethod

from harness.errors import HarnessError
from harness.server.base import Server


class Fault(ABC):
    name: str
    description: str

    @abstractmethod
    def inject(self, server: Server) -> None:
        """Break the server; afterwards it is not running and the trial restarts it."""


class Kill9(Fault):
    name = "kill9"
    description = ("SIGKILL to the server and its children (a process crash): the operating system "
                   "and its page cache survive, so whatever Redis wrote to a file survives too")

    def inject(self, server: Server) -> None:
        server.kill()


FAULTS: dict[str, Fault] = {fault.name: fault for fault in (Kill9(),)}


def select_faults(names: list[str] | None) -> list[Fault]:
    names = names or ["kill9"]
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise HarnessError(f"unknown fault {', '.join(map(repr, unknown))}: available are {', '.join(FAULTS)}")
    return [FAULTS[name] for name in dict.fromkeys(names)]
