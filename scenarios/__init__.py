"""The scenarios, by name: every module in this package with a `NAME`.

A scenario module defines
    NAME                      its name in specs and trials.csv (`scenario` column)
    plan(options) -> Plan     the specs it runs (harness.runner.local.Plan)
    run(spec, env, shard)     one trial: compose topology, workload, fault and checkers
    trial_line(row) -> str    one line of progress for a finished trial
Its part of the report is a module in harness/report/sections/ with the same `SCENARIO` name
(a scenario without one gets a generic part: its trials table).
"""

from __future__ import annotations

from types import ModuleType

from harness import plugins
from harness.errors import HarnessError

_REGISTRY: dict[str, ModuleType] = {}


def _load() -> None:
    if _REGISTRY:
        return
    for module in plugins.modules(__name__, __path__, skip=()):
        if hasattr(module, "NAME"):
            _REGISTRY[module.NAME] = module


def names() -> list[str]:
    _load()
    return list(_REGISTRY)


def get(name: str) -> ModuleType:
    _load()
    if name not in _REGISTRY:
        raise HarnessError(f"unknown scenario {name!r}: available are {', '.join(_REGISTRY)}")
    return _REGISTRY[name]

