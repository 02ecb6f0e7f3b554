"""The power-loss faults: the server's data lives on powerfs; the fault kills the server, cuts
the power on the filesystem (everything never fsynced is gone, or torn), remounts what
survived, and the trial restarts the server on it."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.faults import Fault, FaultOptions, FaultSession
from harness.powerfs import DEFAULT_WRITEBACK_S, PowerFS, fuse_available
from harness.server.base import Server


class _PowerLossSession(FaultSession):
    def __init__(self, data_dir: Path, seed: int, torn: bool, options: FaultOptions) -> None:
        self.seed = seed
        self.torn = torn
        self.backing = data_dir / "durable"  # exactly the durable state, after a cut
        self.server_dir = data_dir / "mnt"  # what the server sees (bind-mounted at /data in Docker)
        self.backing.mkdir(parents=True, exist_ok=True)
        self.server_dir.mkdir(parents=True, exist_ok=True)
        self.fs = PowerFS(self.backing, self.server_dir, metadata=options.fs_metadata,
                          writeback_s=options.fs_writeback_s)

    def __enter__(self) -> "_PowerLossSession":
        self.fs.mount()
        return self

    def inject(self, server: Server) -> dict:
        server.kill()
        counters = self.fs.cut(torn=self.torn, seed=self.seed)
        self.fs.remount()
        return counters

    def __exit__(self, *exc) -> None:
        self.fs.close()


class PowerLoss(Fault):
    def __init__(self, options: FaultOptions, torn: bool) -> None:
        self.options = options
        self.torn = torn
        self.name = "torn-power-loss" if torn else "power-loss"
        self.description = (
            "SIGKILL, then a power cut on the server's filesystem: every write never fsynced is gone"
            + (", except a random page-aligned part of them (a partial writeback: torn files)" if torn else "")
        )

    def check(self) -> None:
        problem = fuse_available()
        if problem:
            raise HarnessError(f"fault {self.name} needs FUSE: {problem}")

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _PowerLossSession(data_dir, seed, self.torn, self.options)

    def facts(self) -> dict:
        writeback = self.options.fs_writeback_s
        return {"fs_metadata": self.options.fs_metadata,
                "fs_writeback": "off" if writeback is None else f"{writeback:g}"}


def power_loss_faults(options: FaultOptions) -> list[Fault]:
    return [PowerLoss(options, torn=False), PowerLoss(options, torn=True)]


__all__ = ["PowerLoss", "power_loss_faults", "DEFAULT_WRITEBACK_S"]
