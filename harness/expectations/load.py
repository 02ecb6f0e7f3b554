"""Reading an expectations file (TOML, with the standard library's tomllib): every problem is one
line naming the file, the table and what is wrong, raised before any trial runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from harness.errors import HarnessError
from harness.expectations.model import OVER, SELECTORS, Expectation, parse_check

KEYS = ("name", "check", "over", "claim", "source", *SELECTORS)


def _strings(value: object, key: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise HarnessError(f"{key} must be a name or a list of names, not {value!r}")
    return tuple(values)


def _text(table: dict, key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise HarnessError(f"{key} must be text, not {value!r}")
    return value


def parse_table(table: object, columns: list[str]) -> Expectation:
    """One [[expect]] table; `columns`: the numeric trials.csv columns a check may name."""
    if not isinstance(table, dict):
        raise HarnessError("must be a table ([[expect]])")
    unknown = [key for key in table if key not in KEYS]
    if unknown:
        raise HarnessError(f"unknown key {', '.join(map(repr, unknown))} (known: {', '.join(KEYS)})")
    if "check" not in table:
        raise HarnessError("has no check (for example check = \"lost_sessions == 0\")")
    check = parse_check(_text(table, "check"), columns)
    over = _text(table, "over") or "all"
    if over not in OVER:
        raise HarnessError(f"over must be {' or '.join(map(repr, OVER))}, not {over!r}")
    selectors = {key: _strings(table[key], key) for key in SELECTORS if key in table}
    expectation = Expectation("", check, over, selectors, _text(table, "claim"), _text(table, "source"))
    name = _text(table, "name") or f"{check.text} ({expectation.scope}, {over})"
    return Expectation(name, check, over, selectors, expectation.claim, expectation.source)


def parse_document(data: dict, columns: list[str], where: str) -> list[Expectation]:
    extra = [key for key in data if key != "expect"]
    if extra:
        raise HarnessError(f"{where}: unknown top-level key {', '.join(map(repr, extra))}: expectations are "
                           f"[[expect]] tables")
    tables = data.get("expect")
    if not isinstance(tables, list) or not tables:
        raise HarnessError(f"{where}: no [[expect]] tables")
    expectations = []
    for number, table in enumerate(tables, 1):
        label = f"{where}: [[expect]] #{number}"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            label += f" ({table['name']!r})"
        try:
            expectations.append(parse_table(table, columns))
        except HarnessError as exc:
            raise HarnessError(f"{label}: {exc}") from None
    names = [e.name for e in expectations]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise HarnessError(f"{where}: two expectations are named {twice[0]!r}: give each its own name")
    return expectations


def load(path: Path, columns: list[str]) -> list[Expectation]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise HarnessError(f"cannot read expectations {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: not valid TOML: {exc}") from None
    return parse_document(data, columns, str(path))
