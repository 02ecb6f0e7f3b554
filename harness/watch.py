"""What the server itself says during a crash trial: CONFIG at the start, INFO right before the fault,
right before a fault stops it and when a disk fault's time is over, when it stopped and how, and its
log. The trial fills a `ServerWatch`; the checkers read it as `ServerEvidence` (server.json).

An INFO asked while the server's main thread is blocked (in a stalled fsync under `always`) would
wait as long: snapshots taken under a fault get a short timeout and record that it went unanswered.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import redis

from harness.checkers.base import ServerEvidence
from harness.server.base import Server
from harness.server.logs import log_clock_offset_s
from harness.server.persistence import persistence_config, server_state

SNAPSHOT_TIMEOUT_S = 0.3  # under a fault: answer now or be recorded as unanswered
POLL_S = 0.05


def snapshot(server: Server, timeout_s: float = 5.0) -> dict:
    """INFO persistence, stats and errorstats now; {"unanswered": reason} when the server did not answer."""
    client = server.client(timeout_s=timeout_s)
    try:
        state = server_state(client)
        state["read_at_ns"] = time.time_ns()
        return state
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
        return {"unanswered": f"{type(exc).__name__}: {exc}"[:200], "read_at_ns": time.time_ns()}
    finally:
        client.close()


@dataclass
class ServerWatch:
    config: dict = field(default_factory=dict)
    info_before: dict = field(default_factory=dict)
    info_at_crash: dict = field(default_factory=dict)
    info_at_end: dict = field(default_factory=dict)
    info_after_lift: dict = field(default_factory=dict)
    stopped: str = ""
    stopped_ns: int = 0
    watch_end_ns: int = 0
    restarted: bool = False
    restart_failed: bool = False
    power_cut: bool = False
    start_ns: int = 0
    log: str = ""

    def started(self, server: Server, start_ns: int) -> None:
        self.start_ns = start_ns
        client = server.client()
        try:
            self.config = persistence_config(client)
        finally:
            client.close()

    def before_fault(self, server: Server) -> None:
        self.info_before = snapshot(server, SNAPSHOT_TIMEOUT_S)

    def stopping(self, server: Server, how: str, read_info: bool) -> bool:
        """The server is about to be stopped by the fault ("fault") or was seen gone ("exited");
        False if that was already noted."""
        if self.stopped:
            return False
        if how == "fault" and read_info:
            self.info_at_crash = snapshot(server, SNAPSHOT_TIMEOUT_S)
        self.stopped, self.stopped_ns = how, time.time_ns()
        return True

    def ride_out(self, server: Server, until_ns: int, on_exit) -> None:
        """Keep watching a server that a fault left running until `until_ns`; `on_exit()` when it
        exits on its own meanwhile. At the end, what it says of itself."""
        while not self.stopped and time.time_ns() < until_ns:
            if not server.is_running():
                on_exit()
                return
            time.sleep(POLL_S)
        if not self.stopped:
            self.watch_end_ns = time.time_ns()
            self.info_at_end = snapshot(server, SNAPSHOT_TIMEOUT_S)

    def lifted(self, server: Server) -> None:
        """The fault was lifted and the server still runs: what it says now (a server that was stuck
        behind a stalled fsync when the fault's time was over answers once the stall is released)."""
        if not self.stopped and server.is_running():
            self.info_after_lift = snapshot(server, timeout_s=5.0)

    def evidence(self, log: str, fault_facts: dict) -> ServerEvidence:
        fields = {k: v for k, v in asdict(self).items() if k != "log"}
        return ServerEvidence(**fields, log=log, log_offset_s=log_clock_offset_s(log, self.start_ns),
                              fault_facts=fault_facts)
