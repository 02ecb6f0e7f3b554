"""Topologies by kind: every module in this package that defines a `Topology` subclass."""

from __future__ import annotations

from harness import plugins
from harness.record import Columns
from harness.topology.base import DataDirFor, ServerFactory, Topology

__all__ = ["DataDirFor", "ServerFactory", "Topology", "get", "kinds", "column_groups"]

_REGISTRY = plugins.Registry(__name__, __path__, Topology, "kind", "topology")
kinds, get = _REGISTRY.names, _REGISTRY.get


def column_groups() -> list[type[Columns]]:
    return list(dict.fromkeys(cls.columns for cls in _REGISTRY.all().values() if cls.columns is not None))
