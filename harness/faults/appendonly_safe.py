"""appendonly-safe: the AOF turned on the way the Redis maintainers advise, then a restart:
`CONFIG SET appendonly yes` on the live server, wait for the rewrite it starts, then edit the
config file, then restart. The control for appendonly-edit: the same change, done safely."""

from __future__ import annotations

from pathlib import Path

from harness.faults.base import Fault, FaultSession
from harness.faults.operator import OperatorFacts, dbsize, edit_config, enable_aof_live, stop_gracefully


class _SafeSession(FaultSession):
    def inject(self, topology, took_effect) -> OperatorFacts:
        server = topology.primary
        rewrite_s = enable_aof_live(server)
        change = edit_config(server.spec.config_path, "appendonly", "yes")
        keys = dbsize(server)
        stop_s = stop_gracefully(server)
        took_effect()
        return OperatorFacts(keys_before_stop=keys, stop_s=round(stop_s, 3), aof_rewrite_s=round(rewrite_s, 3),
                             config_edit=change)


class AppendonlySafe(Fault):
    name = "appendonly-safe"
    label = "CONFIG SET appendonly yes, rewrite, edit, restart"
    phrase = "turning the AOF on live, then in the file, then restarting (fault `appendonly-safe`)"
    description = ("`appendonly-safe`: `CONFIG SET appendonly yes` on the running server, wait until the AOF rewrite "
                   "it starts has finished, then edit `appendonly yes` into the config file, then restart (SIGTERM, "
                   "then a start on the same file and data directory).")
    order = 55
    columns = OperatorFacts

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _SafeSession(data_dir)
