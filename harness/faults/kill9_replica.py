"""kill9-replica: SIGKILL a replica, the control: the primary keeps its data and goes on serving.

Nothing acknowledged should be lost, and no failover should happen; the trial restarts the
replica, which resyncs. With `min-replicas-to-write 1` and one replica, the primary refuses
writes (`NOREPLICAS`) until the replica is back: what that setting costs.
"""

from __future__ import annotations

from pathlib import Path

from harness.faults.base import Fault, FaultSession


class _KillReplicaSession(FaultSession):
    def inject(self, topology, took_effect) -> None:
        topology.role(Kill9Replica.target_role).kill()
        took_effect()
        return None


class Kill9Replica(Fault):
    name = "kill9-replica"
    label = "kill -9 replica"
    phrase = "a process crash of a replica (kill -9)"
    description = ("`kill9-replica`: `SIGKILL` the first replica (a control): the primary keeps serving, no "
                   "failover should happen; the replica is restarted and resyncs.")
    order = 60
    target_role = "replica-1"
    needs_failover = True

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _KillReplicaSession(data_dir)
