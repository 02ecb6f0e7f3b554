"""crash-mid-save: a crash while a background save is writing. Under load, start a BGSAVE or a
BGREWRITEAOF (`save`), wait `after_s` seconds while its child writes, confirm from INFO
persistence that it is still running, and crash: kill -9 (the child dies with the server) or a
power cut (`crash`). The log up to the crash says whether the child finished in between.

`key_save_delay_us` sets Redis's own test knob `rdb-key-save-delay` (the child sleeps that many
microseconds per key) to hold the save open longer; off by default, so the save runs at its
real speed and the trial records whether the crash still found it running.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.configs import persistence_of
from harness.errors import HarnessError
from harness.faults.base import Facts, Fault, FaultSession
from harness.faults.power_loss import PowerLossFacts, PowerLossOptions, _PowerLossSession
from harness.powerfs import fuse_available
from harness.record import NAN, Columns
from harness.spec import ConfigSpec

SAVES = {"bgsave": "rdb_bgsave_in_progress", "bgrewriteaof": "aof_rewrite_in_progress"}
CRASHES = ("kill9", "power-loss")
_STARTED = {"bgsave": re.compile(r"Background saving started by pid (\d+)"),
            "bgrewriteaof": re.compile(r"Background append only file rewriting started by pid (\d+)")}
_FINISHED = {"bgsave": "Background saving terminated with success",
             "bgrewriteaof": "Background AOF rewrite terminated with success"}
POLL_S = 0.002


@dataclass(frozen=True)
class MidSaveOptions(PowerLossOptions):  # fs_metadata, fs_writeback: for crash=power-loss
    save: str = "bgrewriteaof"  # or bgsave
    crash: str = "kill9"  # or power-loss
    after_s: float = 0.0  # seconds between starting the save and the crash
    key_save_delay_us: int = 0  # rdb-key-save-delay for the child (0: its real speed)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.save not in SAVES:
            raise ValueError(f"save {self.save!r}: choose {' or '.join(SAVES)}")
        if self.crash not in CRASHES:
            raise ValueError(f"crash {self.crash!r}: choose {' or '.join(CRASHES)}")
        if self.after_s < 0 or self.key_save_delay_us < 0:
            raise ValueError("after_s and key_save_delay_us must be >= 0")


@dataclass(frozen=True)
class MidSaveFacts(Columns):
    """Which save was running when the crash came, and how far it had got."""

    labels: ClassVar[dict[str, str]] = {"save_running_at_crash": "Save running at crash"}

    save_command: str = ""
    save_crash: str = ""  # kill9 or power-loss
    save_running_at_crash: bool = False  # INFO said so just before, and the log shows no finish before the crash
    save_started_before_crash_s: float = NAN
    save_keys_done: int = 0  # current_save_keys_processed (Redis 7+) at the last INFO before the crash
    save_keys_total: int = 0
    save_child_pid: int = 0
    save_temp_files: int = 0  # temp-*.rdb / temp-rewriteaof-*.aof left in the data directory after the crash


def finished_before_crash(log: str, save: str) -> tuple[int, bool]:
    """(the child's pid from the last start line, whether the log says that save finished after it)."""
    starts = list(_STARTED[save].finditer(log))
    if not starts:
        return 0, False
    return int(starts[-1].group(1)), _FINISHED[save] in log[starts[-1].end():]


def temp_files(data_dir: Path) -> int:
    return sum(1 for p in data_dir.rglob("temp-*") if p.is_file())


class _MidSaveSession(FaultSession):
    def __init__(self, data_dir: Path, seed: int, options: MidSaveOptions) -> None:
        self.options = options
        self.power = _PowerLossSession(data_dir, seed, False, options) if options.crash == "power-loss" else None
        self.server_dir = self.power.server_dir if self.power else data_dir
        self.fs = self.power.fs if self.power else None  # a sequence's disk fault may act on it

    def __enter__(self) -> "_MidSaveSession":
        if self.power:
            self.power.__enter__()
        return self

    def _start_save(self, client) -> tuple[float, dict]:
        """Start the save and wait `after_s`; returns (when it started, the last INFO before the crash)."""
        if self.options.key_save_delay_us:
            client.config_set("rdb-key-save-delay", self.options.key_save_delay_us)
        started = time.monotonic()
        client.execute_command(self.options.save.upper())
        info = client.info("persistence")
        while time.monotonic() < started + self.options.after_s:
            time.sleep(POLL_S)
            info = client.info("persistence")
        return started, info

    def inject(self, topology, took_effect) -> Facts:
        server = topology.primary
        client = server.client()
        try:
            started, info = self._start_save(client)
        finally:
            client.close()
        crash_facts = self.power.inject(topology, took_effect) if self.power else server.kill()
        took_effect()  # (a power cut called it already; once is what counts)
        pid, finished = finished_before_crash(server.log_text(), self.options.save)
        running = bool(info.get(SAVES[self.options.save])) and not finished
        facts = MidSaveFacts(
            save_command=self.options.save, save_crash=self.options.crash, save_running_at_crash=running,
            save_started_before_crash_s=round(time.monotonic() - started, 4),
            save_keys_done=int(info.get("current_save_keys_processed", 0)),
            save_keys_total=int(info.get("current_save_keys_total", 0)), save_child_pid=pid,
            save_temp_files=temp_files(self.server_dir))
        return (facts, crash_facts) if crash_facts is not None else facts

    def __exit__(self, *exc) -> None:
        if self.power:
            self.power.__exit__(*exc)


class CrashMidSave(Fault):
    name = "crash-mid-save"
    label = "crash mid-save"
    phrase = "a crash during a background save (fault `crash-mid-save`)"
    description = ("`crash-mid-save`: under load, start a `BGREWRITEAOF` (or `BGSAVE`: `save`), confirm from "
                   "`INFO persistence` that its child is writing, and crash then: `SIGKILL` to the server and its "
                   "child, or a power cut (`crash=power-loss`).")
    meaning = ("a crash that comes while the server is rewriting its AOF or saving a snapshot (on a big dataset they "
               "run for minutes)")
    order = 50
    Options = MidSaveOptions
    columns = MidSaveFacts

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        if self.options.crash == "power-loss":  # this instance cuts the power: say so where the class would not
            self.cuts_power = True
            self.disk = "power"

    def groups(self) -> tuple[type[Columns], ...]:
        return (MidSaveFacts, PowerLossFacts) if self.options.crash == "power-loss" else (MidSaveFacts,)

    def check(self) -> None:
        problem = fuse_available() if self.options.crash == "power-loss" else None
        if problem:
            raise HarnessError(f"fault {self.name} with crash=power-loss needs FUSE: {problem}")

    def check_with(self, config: ConfigSpec, workload: Any) -> None:
        if self.options.save == "bgrewriteaof" and not persistence_of(config.text).aof:
            raise HarnessError(f"fault crash-mid-save (save=bgrewriteaof): config {config.name} has no AOF; "
                               "use save=bgsave")

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _MidSaveSession(data_dir, seed, self.options)

