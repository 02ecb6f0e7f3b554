"""kill -9: a process crash. The operating system and its page cache survive."""

from __future__ import annotations

from pathlib import Path

from harness.faults.base import Fault, FaultSession


class _KillSession(FaultSession):
    def inject(self, topology, took_effect) -> None:
        topology.primary.kill()
        took_effect()
        return None


class Kill9(Fault):
    name = "kill9"
    label = "kill -9"
    phrase = "a process crash (kill -9)"
    description = ("`kill9`: send `SIGKILL` to the server (kill -9), a process crash: the operating system and "
                   "its page cache survive, so whatever Redis wrote to a file survives too.")
    order = 10
    meaning = "a process crash: the OOM killer, a segfault, `docker kill`, a node agent that SIGKILLs"

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _KillSession(data_dir)

    @classmethod
    def caveat(cls, values: dict[str, list[str]], measured: list) -> str:
        power = any(f.cuts_power for f in measured)
        return ("kill -9 is a process crash: the operating system and its page cache survive it, so whatever "
                "Redis had written to a file reaches the disk even if it was never fsynced. That is why the "
                "appendfsync settings (always, everysec, no) differ little under kill -9. A power loss, which "
                "drops the page cache, is a different fault"
                + (" and is reported under its own fault name." if power else " and is not measured here."))
