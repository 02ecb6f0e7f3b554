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


class Combined:
    """Several scenarios run as one (one run folder, one report): each spec runs in the scenario
    it names; each scenario's `prepare` sees the whole plan and acts on its own specs."""

    def __init__(self, modules: list[ModuleType]) -> None:
        self.modules = {module.NAME: module for module in modules}

    def run(self, spec, env, shard) -> None:
        self.modules[spec.scenario].run(spec, env, shard)

    def trial_line(self, row: dict) -> str:
        return self.modules[str(row.get("scenario"))].trial_line(row)

    def prepare(self, plan, pool, echo):
        for module in self.modules.values():
            if hasattr(module, "prepare"):
                plan = module.prepare(plan, pool, echo)
        return plan


def combined(names: list[str]) -> Combined:
    return Combined([get(name) for name in names])
