"""Number formatting shared by the tables, the sentences and the charts.

One place decides how a value is written, so a number in a recommendation sentence is
exactly the number the reader finds in the table next to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# One reading of an empty cell and of a boolean for the whole harness: the records' own.
from harness.record import is_missing, truthy

__all__ = ["DASH", "Formatter", "is_missing", "truthy", "count", "rate", "ms", "seconds", "seconds_precise",
           "spread", "percent_of", "plain", "ratio", "of", "flag", "text", "words"]

DASH = "–"  # a value that was not measured (missing column, no trial)

Formatter = Callable[[object], str]


def count(value: object) -> str:
    """A count, or a median of counts: whole numbers with separators, halves kept (median of 2)."""
    if is_missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def rate(value: object) -> str:
    """Operations per second: whole numbers are precise enough for a shared machine."""
    if is_missing(value):
        return DASH
    return f"{float(value):,.0f}"  # type: ignore[arg-type]


def ms(value: object) -> str:
    if is_missing(value):
        return DASH
    return f"{float(value):,.2f}"  # type: ignore[arg-type]


def seconds(value: object) -> str:
    """Seconds to the millisecond: recovery after a kill is often a few tens of ms."""
    if is_missing(value):
        return DASH
    return f"{float(value):,.3f}"  # type: ignore[arg-type]


def seconds_precise(value: object) -> str:
    """Seconds to 0.1 ms, as trials.csv stores downtime: a client-observed gap can be under 1 ms."""
    if is_missing(value):
        return DASH
    return f"{float(value):,.4f}"  # type: ignore[arg-type]


def spread(median: object, low: object, high: object, fmt: Formatter) -> str:
    """'median (min–max)', e.g. '0 (0–0)'."""
    if is_missing(median):
        return DASH
    return f"{fmt(median)} ({fmt(low)}{DASH}{fmt(high)})"


def bracket(low: object, high: object, fmt: Formatter) -> str:
    """'low–high', or one figure when they agree (as written): a quantity known between two bounds."""
    if is_missing(high):
        return DASH
    if is_missing(low) or fmt(low) == fmt(high):
        return fmt(high)
    return f"{fmt(low)}{DASH}{fmt(high)}"


def percent_of(part: float, whole: float) -> str | None:
    """Whole percent, rounded down so a slower config never reads as '100%' of the fastest."""
    if is_missing(part) or is_missing(whole) or whole <= 0:
        return None
    return f"{math.floor(100 * part / whole)}%"


def plain(value: object) -> str:
    """Any other cell (strings, environment values)."""
    if is_missing(value):
        return DASH
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def ratio(value: object) -> str:
    """A dimensionless ratio (driver throughput / ceiling): two decimals show 0.79 against 0.80."""
    if is_missing(value):
        return DASH
    return f"{float(value):.2f}"  # type: ignore[arg-type]


def of(part: object, whole: object) -> str:
    """'2 of 3': how many trials something happened in."""
    if is_missing(part) or is_missing(whole):
        return DASH
    return f"{count(part)} of {count(whole)}"


def flag(value: object) -> str:
    """A per-trial yes/no (restart failed); missing stays missing."""
    if is_missing(value):
        return DASH
    return "yes" if truthy(value) else "no"


def text(value: object) -> str | None:
    """A free-text cell (a log line, a mode): None when empty or missing."""
    if is_missing(value):
        return None
    value = str(value).strip()
    return value or None


def words(name: str) -> str:
    """A column name as a header: 'unsynced_bytes_at_cut' -> 'Unsynced bytes at cut'."""
    spaced = name.replace("_", " ").strip()
    return spaced[:1].upper() + spaced[1:]
