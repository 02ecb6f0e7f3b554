"""An expectation: a statement about measured trials.csv columns, and which trials it is about.

    [[expect]]
    name = "aof-always keeps every acknowledged session"   # optional: the test case's name
    config = "aof-always"                                  # selectors, each optional: a name or a list
    fault = ["kill9", "power-loss"]
    check = "lost_sessions == 0"                           # column, operator, number (or another column)
    over = "all"                                           # every selected trial; or "median"
    claim = "..."                                          # optional: the claim in its own words
    source = "redis.conf comments"                         # optional: where it is written

Pure data and pure functions; reading the TOML file is harness.expectations.load.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.errors import HarnessError

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
SELECTORS = ("server", "config", "fault", "scenario")
OVER = ("all", "median")
_CHECK = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Check:
    column: str
    op: str
    number: float | None = None  # the right-hand side: a number...
    other: str | None = None  # ...or another column of the same trial

    @property
    def text(self) -> str:
        right = self.other if self.other is not None else _number_text(self.number)
        return f"{self.column} {self.op} {right}"

    def holds(self, left: float, right: float) -> bool:
        """NaN (not measured) never holds: a claim is not confirmed by a missing figure."""
        if math.isnan(left) or math.isnan(right):
            return False
        return OPERATORS[self.op](left, right)


def _number_text(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else repr(value)


def parse_check(text: str, columns: list[str]) -> Check:
    """'lost_sessions == 0' -> Check; `columns`: the trials.csv columns that hold numbers."""
    match = _CHECK.match(text)
    if not match:
        raise HarnessError(f"check {text!r} is not '<column> <operator> <number>' (operators: "
                           f"{' '.join(OPERATORS)})")
    column, op, right = match.groups()
    _known(column, columns, text)
    try:
        number = float(right)
    except ValueError:
        _known(right, columns, text, what="neither a number nor")
        return Check(column, op, other=right)
    if math.isnan(number):
        raise HarnessError(f"check {text!r}: compare with a number, not nan")
    return Check(column, op, number=number)


def _known(column: str, columns: list[str], text: str, what: str = "not") -> None:
    if column not in columns:
        raise HarnessError(f"check {text!r}: {column!r} is {what} a numeric trials.csv column "
                           f"(known: {', '.join(columns)})")


@dataclass(frozen=True)
class Expectation:
    name: str
    check: Check
    over: str = "all"
    selectors: dict[str, tuple[str, ...]] = field(default_factory=dict)  # selector -> accepted values
    claim: str = ""
    source: str = ""

    @property
    def scope(self) -> str:
        """'config aof-always, fault kill9 or power-loss' ('every trial' without selectors)."""
        parts = [f"{key} {' or '.join(values)}" for key, values in self.selectors.items()]
        return ", ".join(parts) or "every trial"


def server_matches(wanted: str, server: str, image: str) -> bool:
    """A server selector: the label INFO gave ('valkey 8.1.8'), a prefix of it at a word or version
    boundary ('valkey', 'redis 7', 'redis 7.0'), or the image the trial ran."""
    wanted, server = wanted.strip().lower(), str(server).strip().lower()
    if wanted in (server, str(image).strip().lower()):
        return True
    return server.startswith(wanted) and server[len(wanted):len(wanted) + 1] in (" ", ".")


def selects(expectation: Expectation, row: dict) -> bool:
    for key, values in expectation.selectors.items():
        if key == "server":
            if not any(server_matches(v, row.get("server", ""), row.get("image", "")) for v in values):
                return False
        elif str(row.get(key, "")) not in values:
            return False
    return True
