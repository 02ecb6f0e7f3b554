"""The checkers, found by name: every module in this package that defines a `Checker` subclass.

A trial runs the checkers its spec names (`TrialSpec.checkers`); each returns its own columns.
Adding a checker is one new file here; `register` adds one from elsewhere (a test module).
"""

from __future__ import annotations

from harness import plugins
from harness.checkers.base import Checker, Evidence, ServerEvidence, Verdict
from harness.record import Columns

__all__ = ["Checker", "Evidence", "ServerEvidence", "Verdict", "get", "names", "register", "column_groups",
           "run_checkers"]

_REGISTRY = plugins.Registry(__name__, __path__, Checker, "name", "checker")
register, unregister, names = _REGISTRY.register, _REGISTRY.unregister, _REGISTRY.names


def get(name: str) -> Checker:
    return _REGISTRY.get(name)()


def column_groups() -> list[type[Columns]]:
    return list(dict.fromkeys(cls.columns for cls in _REGISTRY.all().values()))


def run_checkers(checker_names: tuple[str, ...] | list[str], evidence: Evidence) -> list[Verdict]:
    return [get(name).check(evidence) for name in checker_names]
