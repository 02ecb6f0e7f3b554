"""The report's sections, by scenario: every module or package here that defines `SCENARIO` and
`build(run, out_dir) -> ScenarioReport` (see `base`).

A report is one per run; each scenario present in trials.csv contributes its sections. A scenario
without a module here still gets a section: its trials, as the every-trial table.
"""

from __future__ import annotations

from pathlib import Path

from harness import plugins
from harness.report.rundata import RunData
from harness.report.sections.base import Builder, ScenarioReport
from harness.report.sections.generic import build as build_generic

__all__ = ["Builder", "ScenarioReport", "builder", "build_scenarios", "module_of"]

_BUILDERS: dict[str, Builder] = {}
_MODULES: dict[str, object] = {}
_LOADED = False


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for module in plugins.modules(__name__, __path__, skip=("base", "generic")):
        scenario = getattr(module, "SCENARIO", None)
        if scenario:
            _BUILDERS.setdefault(scenario, module.build)
            _MODULES.setdefault(scenario, module)


def builder(scenario: str) -> Builder:
    """The section builder of a scenario; the generic one (its trials table) for any other."""
    _load()
    return _BUILDERS.get(scenario, build_generic)


def module_of(scenario: str):
    """The report module of a scenario (None without one): its `build`, and what else it offers
    (`console_table`, the summary the CLI prints)."""
    _load()
    return _MODULES.get(scenario)


def build_scenarios(run: RunData, out_dir: Path) -> list[ScenarioReport]:
    """One part per scenario in the run, in the order trials.csv first names them."""
    return [builder(scenario)(run.only(scenario), out_dir) for scenario in run.scenarios()]
