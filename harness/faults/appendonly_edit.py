"""appendonly-edit: `appendonly yes` edited into the config file of a server holding an RDB
dataset, then a restart. The pitfall users report losing everything to: on start, with the AOF
on, the server loads the AOF (there is none, so an empty one is made) and not the RDB."""

from __future__ import annotations

from pathlib import Path

from harness.faults.base import Fault, FaultSession
from harness.faults.operator import OperatorFacts, dbsize, edit_config, stop_gracefully


class _EditSession(FaultSession):
    def inject(self, topology, took_effect) -> OperatorFacts:
        server = topology.primary
        keys = dbsize(server)
        change = edit_config(server.spec.config_path, "appendonly", "yes")
        stop_s = stop_gracefully(server)
        took_effect()
        return OperatorFacts(keys_before_stop=keys, stop_s=round(stop_s, 3), config_edit=change)


class AppendonlyEdit(Fault):
    name = "appendonly-edit"
    label = "appendonly yes edited in, restart"
    phrase = "turning the AOF on by editing the config file and restarting (fault `appendonly-edit`)"
    description = ("`appendonly-edit`: edit `appendonly yes` into the server's config file (in place, as an operator "
                   "would), then restart it as `systemctl restart` or `docker restart` does: SIGTERM, so the server "
                   "saves before it exits, then a start on the edited file and the same data directory.")
    order = 60
    columns = OperatorFacts

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _EditSession(data_dir)
