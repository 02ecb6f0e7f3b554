"""Number formatting shared by the tables, the sentences and the charts.

One place decides how a value is written, so a number in a recommendation sentence is
exactly the number the reader finds in the table next to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

DASH = "–"  # a value that was not measured (missing column, no trial)

Formatter = Callable[[object], str]


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


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


def spread(median: object, low: object, high: object, fmt: Formatter) -> str:
    """'median (min–max)', e.g. '0 (0–0)'."""
    if is_missing(median):
        return DASH
    return f"{fmt(median)} ({fmt(low)}{DASH}{fmt(high)})"


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
