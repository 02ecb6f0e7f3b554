"""What a scenario will run: its specs, the configs they use, facts for environment.json, notes,
and checks on the real server before the first trial; several scenarios' plans as one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.server.base import Backend, ServerBuild
from harness.spec import ConfigSpec, TrialSpec

# A check a scenario needs on the real server before any trial (after every config was accepted):
# (backend, build, echo) -> None, raising HarnessError. The eviction scenario's: is maxmemory big
# enough for the empty server and the baseline?
ServerCheck = Callable[[Backend, ServerBuild, Callable[[str], None]], None]


@dataclass
class Plan:
    """What a scenario will run: its specs, the configs they use, facts for environment.json,
    notes said before the run starts, and checks on the real server before the first trial."""

    specs: list[TrialSpec]
    configs: list[ConfigSpec] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checks: list[ServerCheck] = field(default_factory=list)


def combine(plans: dict[str, Plan]) -> Plan:
    """Several scenarios' plans as one run, in the order given. environment.json keeps each one's
    facts under `scenarios.<name>`, and the first plan's at the top level (where a one-scenario
    run has them, so its report reads them the same way)."""
    parts = list(plans.values())
    configs = {}
    for part in parts:
        for config in part.configs:
            configs.setdefault((config.name, config.text), config)
    environment = {**(parts[0].environment if parts else {}),
                   "scenarios": {name: part.environment for name, part in plans.items()}}
    return Plan([s for p in parts for s in p.specs], list(configs.values()), environment,
                [n for p in parts for n in p.notes], [c for p in parts for c in p.checks])
