"""lost-volume: the server restarts on a data directory that is not the one it saved into: a
container recreated without its volume (`docker compose up` after the volume was renamed, a
`docker run` without `-v`). A plain control: no persistence setting survives it."""

from __future__ import annotations

from pathlib import Path

from harness.faults.base import Fault, FaultSession
from harness.faults.operator import OperatorFacts, dbsize, stop_gracefully

VOLUME = "volume"  # the directory the server uses, inside the trial's data directory
DETACHED = "volume-detached"  # where the old one goes: still on the host, no longer mounted


class _LostVolumeSession(FaultSession):
    def __init__(self, data_dir: Path) -> None:
        self.server_dir = data_dir / VOLUME
        self.server_dir.mkdir(parents=True, exist_ok=True)

    def inject(self, topology, took_effect) -> OperatorFacts:
        server = topology.primary
        keys = dbsize(server)
        stop_s = stop_gracefully(server)  # the old container is stopped (and saves into its volume)
        took_effect()
        # Same path, new directory: the restarted container (Docker mounts by path on every start)
        # or process finds an empty one, as a recreated container finds the image's own /data.
        self.server_dir.rename(self.server_dir.parent / DETACHED)
        self.server_dir.mkdir()
        return OperatorFacts(keys_before_stop=keys, stop_s=round(stop_s, 3))


class LostVolume(Fault):
    name = "lost-volume"
    label = "restart without the data volume"
    phrase = "a restart on a fresh data directory, as a container recreated without its volume (fault `lost-volume`)"
    description = ("`lost-volume`: stop the server with SIGTERM (it saves), move its data directory aside and put an "
                   "empty one in its place, then start it again: a container recreated without its data volume.")
    order = 70
    columns = OperatorFacts

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _LostVolumeSession(data_dir)
