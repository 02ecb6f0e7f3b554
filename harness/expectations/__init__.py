"""Expectations: claims about measured columns (`--expect FILE`), checked against a run's trials.

    model.py     Expectation, Check and the selectors (pure)
    load.py      the TOML file, every problem one clear line before any trial
    evaluate.py  outcomes from the typed trials frame (pure)
    text.py      outcomes in words; junit.py: junit.xml for CI
    run.py       the copy kept in a run folder, evaluated when its report is built
"""

from harness.expectations.evaluate import FAILED, NOT_MEASURED, PASSED, Outcome, any_failed, evaluate
from harness.expectations.load import load
from harness.expectations.model import Expectation

__all__ = ["Expectation", "Outcome", "PASSED", "FAILED", "NOT_MEASURED", "any_failed", "evaluate", "load"]
