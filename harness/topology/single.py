"""One server, the primary: the crash matrix's topology."""

from __future__ import annotations

from harness.topology.base import DataDirFor, ServerFactory, Topology


class SingleServer(Topology):
    kind = "single"

    @classmethod
    def create(cls, factory: ServerFactory, name: str, data_dir_for: DataDirFor, port: int | None = None,
               **options) -> "SingleServer":
        return cls({"primary": factory.make(name, data_dir_for("primary"), port)})

    def start(self) -> None:
        self.primary.start()
