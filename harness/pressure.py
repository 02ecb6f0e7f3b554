"""Memory pressure around a trial's session load: the other data filling the server, and the
watch on what the server evicts.

    with MemoryPressure(server, other_data) as pressure:
        pressure.start()           # subscribed to evictions; the server's policy and limit read
        pressure.start_other()     # the cache starts growing (just before the session load)
        ...the session load (and a crash and restart, if the trial has one)...
        evidence = pressure.finish()   # other data stopped, limit lifted, notifications drained

`finish` lifts the limit (`CONFIG SET maxmemory 0`) before anything is read back: while memory
is over the limit the server evicts on *any* command, so the readback's own SCAN and GET would
otherwise evict sessions while they are being read. Its evidence, for the checkers:
`evicted` (every notified eviction), `memory` (INFO samples), `pressure` (facts: the limit and
policy the server ran with, what became of the other data's writes, the server's own eviction
count per server life, and whether the notifications are known complete).
"""

from __future__ import annotations

from contextlib import suppress

import redis

from harness.server.base import Server
from harness.workload.evictions import EvictionWatch
from harness.workload.other_load import OtherData, OtherLoad


class MemoryPressure:
    def __init__(self, server: Server, data: OtherData) -> None:
        self.server = server
        self.data = data
        self.watch = EvictionWatch(server.port)
        self.other = OtherLoad(server.host, server.port, data)
        self.settings: dict[str, object] = {}
        self._other_started = False

    def __enter__(self) -> "MemoryPressure":
        return self

    def __exit__(self, *exc) -> None:
        if self._other_started:
            with suppress(Exception):  # already stopped by finish(), or the trial is failing anyway
                self.other.stop()
        self.watch.stop()

    def start(self) -> None:
        client = self.server.client()
        config = {}
        for name in ("maxmemory", "maxmemory-policy", "maxmemory-samples", "notify-keyspace-events"):
            config.update(client.config_get(name))
        client.close()
        self.settings = {"maxmemory_bytes": int(config["maxmemory"]), "maxmemory_policy": config["maxmemory-policy"],
                         "maxmemory_samples": int(config["maxmemory-samples"]),
                         "notify_keyspace_events": config["notify-keyspace-events"]}
        self.watch.start()

    def start_other(self) -> None:
        self.other.start()
        self._other_started = True

    def _lift_limit(self) -> dict:
        """The server's memory figures at the end, then no limit (so the readback cannot evict)."""
        try:
            client = self.server.client()
            memory = client.info("memory")
            client.config_set("maxmemory", 0)
            client.close()
            return {"used_memory_bytes": int(memory["used_memory"]),
                    "used_memory_peak_bytes": int(memory["used_memory_peak"])}
        except (redis.ConnectionError, redis.TimeoutError):
            return {}  # the server is down (a restart that failed): nothing left to evict

    def finish(self) -> dict:
        counts = self.other.stop()
        self._other_started = False
        memory = self._lift_limit()
        complete = self.watch.drain()
        self.watch.stop()
        samples = self.watch.samples()
        by_life = samples.groupby("life")["evicted_keys"].max().to_dict() if len(samples) else {}
        facts = {
            **self.settings, **memory,
            "other_data": self.data.variant, "other_ttl_s": self.data.ttl_s,
            "other_value_bytes": self.data.value_bytes, "other_rate_ops_s": self.data.rate_ops_s,
            **{f"other_{name}": value for name, value in counts.as_dict().items()},
            # The server's own evicted_keys, last sampled in each server life (it restarts from 0).
            "info_evicted_keys": {str(life): int(n) for life, n in by_life.items()},
            "notifications_complete": complete,  # drained up to the last sample of the last life
            "deaf_s": round(self.watch.deaf_ns / 1e9, 3),
        }
        return {"evicted": self.watch.frame(), "memory": samples, "pressure": facts}
