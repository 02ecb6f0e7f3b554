"""pause: the primary stops (SIGSTOP) and wakes up (SIGCONT) still believing it is the primary.

As a slow disk, a long fork or a stalled VM stalls a server: it answers nothing, its clients'
requests wait in its socket buffers. Stopped longer than Sentinel's `down-after-milliseconds`,
another server is promoted; woken before the clients' request timeout, it answers what they sent
meanwhile and takes their next writes too, until a Sentinel demotes it, and those writes are
dropped when it resyncs from the new primary. By default the stop lasts until another server was
promoted (at most `max_s`); `stop_s` > 0 stops it for exactly that long instead.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

from harness.faults.base import Fault, FaultSession
from harness.record import NAN, Columns


@dataclass(frozen=True)
class PauseOptions:
    stop_s: float = 0.0  # > 0: stopped exactly this long; 0: until another server is promoted
    after_promotion_s: float = 0.0  # stopped this much longer once another server was promoted
    max_s: float = 4.0  # never longer (shorter than the clients' request timeout)

    def __post_init__(self) -> None:
        if self.stop_s < 0 or self.after_promotion_s < 0 or self.max_s <= 0:
            raise ValueError("pause: stop_s and after_promotion_s must be >= 0, max_s > 0")


@dataclass(frozen=True)
class PauseFacts(Columns):
    paused_s: float = NAN  # SIGSTOP to SIGCONT
    woke_after_promotion: bool = False  # another server was primary by the time it woke


class _PauseSession(FaultSession):
    def __init__(self, data_dir: Path, options: PauseOptions) -> None:
        self.server_dir = data_dir
        self.options = options

    def inject(self, topology, took_effect) -> PauseFacts:
        target, options = topology.primary, self.options
        target.signal(signal.SIGSTOP)
        stopped_ns = time.time_ns()
        took_effect()  # it answers nothing from now on
        promoted = None
        try:
            if options.stop_s > 0:
                time.sleep(min(options.stop_s, options.max_s))
            else:
                promoted = topology.wait_promotion(stopped_ns, options.max_s)
                left = options.max_s - (time.time_ns() - stopped_ns) / 1e9
                time.sleep(max(0.0, min(options.after_promotion_s, left)) if promoted else max(0.0, left))
        finally:
            target.signal(signal.SIGCONT)
        woke_ns = time.time_ns()
        promoted = promoted or topology.wait_promotion(stopped_ns, 0)
        return PauseFacts(round((woke_ns - stopped_ns) / 1e9, 3), promoted is not None)


class Pause(Fault):
    name = "pause"
    label = "pause"
    phrase = "a stall of the primary (SIGSTOP, then SIGCONT)"
    description = ("`pause`: `SIGSTOP` the primary, as a slow disk or a long fork stalls it, until another server "
                   "was promoted (or `stop_s`), then `SIGCONT`: it wakes up believing it is still the primary.")
    order = 40
    stops_server = False  # it comes back on its own: the failover decides what it is then
    needs_failover = True
    Options = PauseOptions
    columns = PauseFacts

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _PauseSession(data_dir, self.options)
