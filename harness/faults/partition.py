"""partition: the links between the primary and every other server are cut; its clients still reach it.

The replicas and the Sentinels reach each data server through a relay on loopback (the
topology's partition proxies); clients reach it directly. Cutting the primary's relay isolates
it from the rest while its clients keep writing to it: it goes on acknowledging (unless
`min-replicas-to-write` makes it refuse once its replica's lag passes `min-replicas-max-lag`),
the Sentinels promote a replica, and when the partition heals the Sentinels demote the old
primary, which drops what it took meanwhile (Jepsen, 2013). The partition holds until every
Sentinel names the new primary, `hold_s` more, at most `max_s`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.faults.base import Fault, FaultSession
from harness.record import NAN, Columns


@dataclass(frozen=True)
class PartitionOptions:
    hold_s: float = 1.0  # cut this long after the Sentinels named the new primary
    max_s: float = 20.0  # never longer

    def __post_init__(self) -> None:
        if self.hold_s < 0 or self.max_s <= 0:
            raise ValueError("partition: hold_s must be >= 0 and max_s > 0")


@dataclass(frozen=True)
class PartitionFacts(Columns):
    partitioned_s: float = NAN  # cut to heal
    healed_after_failover: bool = False  # every Sentinel named a new primary before the heal


class _PartitionSession(FaultSession):
    def __init__(self, data_dir: Path, options: PartitionOptions) -> None:
        self.server_dir = data_dir
        self.options = options

    def inject(self, topology, took_effect) -> PartitionFacts:
        if not hasattr(topology, "partition"):
            raise HarnessError("fault partition needs a Sentinel topology with partition proxies")
        topology.partition("primary", cut=True)
        cut_ns = time.time_ns()
        took_effect()  # its acknowledgements from now on reach no replica
        settled = None
        try:
            settled = topology.wait_settled(cut_ns, self.options.max_s)
            left = self.options.max_s - (time.time_ns() - cut_ns) / 1e9
            time.sleep(max(0.0, min(self.options.hold_s, left)))
        finally:
            topology.partition("primary", cut=False)
        return PartitionFacts(round((time.time_ns() - cut_ns) / 1e9, 3), settled is not None)


class Partition(Fault):
    name = "partition"
    label = "partition"
    phrase = "a network partition between the primary and the rest (its clients still reach it)"
    description = ("`partition`: cut the links between the primary and its replicas and the Sentinels (relays on "
                   "loopback that stop passing bytes), its clients still connected to it; heal once every Sentinel "
                   "names a new primary (and `hold_s` more).")
    order = 50
    stops_server = False  # it comes back on its own: the failover decides what it is then
    needs_failover = True
    Options = PartitionOptions
    columns = PartitionFacts

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _PartitionSession(data_dir, self.options)
