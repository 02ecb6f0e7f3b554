"""What a scenario will run: its specs, the configs they use, facts for environment.json, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.spec import ConfigSpec, TrialSpec


@dataclass
class Plan:
    """What a scenario will run: its specs, the configs they use, facts for environment.json,
    and notes said before the run starts."""

    specs: list[TrialSpec]
    configs: list[ConfigSpec] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
