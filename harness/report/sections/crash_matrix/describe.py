"""The report's opening paragraph: what was measured, on what, how many times.

Read from trials.csv first (what actually ran) and environment.json second (what was asked),
so a report of an older or partial run still says as much as its data allows.
"""

from __future__ import annotations

import pandas as pd

from harness import faults
from harness.report import fmt


def _distinct(trials: pd.DataFrame, column: str) -> list[str]:
    """The recorded values of a column, as first seen ('' and 0 are what a row without it reads as)."""
    return [fmt.plain(v) for v in dict.fromkeys(trials[column].dropna().tolist()) if v != "" and v != 0]


def _one_or_many(values: list[str]) -> str | None:
    return ", ".join(values) if values else None


def _env_or_trials(environment: dict, trials: pd.DataFrame, key: str, *columns: str) -> str | None:
    value = environment.get(key)
    if not fmt.is_missing(value) and value != "":
        return fmt.plain(value)
    for column in columns or (key,):
        found = _one_or_many(_distinct(trials, column))
        if found:
            return found
    workload = environment.get("workload")
    if isinstance(workload, dict) and not fmt.is_missing(workload.get(key)):
        return fmt.plain(workload.get(key))
    return None


def _trials_per_config(summary: pd.DataFrame) -> str | None:
    if summary.empty:
        return None
    counts = sorted({int(t) for t in summary["trials"]})
    if counts == [1]:
        return "1 trial"
    return f"{counts[0]} trials" if len(counts) == 1 else f"{counts[0]}{fmt.DASH}{counts[-1]} trials"


def _servers(trials: pd.DataFrame, environment: dict) -> list[str]:
    """What INFO server said in the trials; environment.json's words for an older run."""
    name, version = environment.get("server"), environment.get("server_version")
    return _distinct(trials, "server") or [" ".join(str(v) for v in (name, version) if v) or "the server"]


def _what(trials: pd.DataFrame, environment: dict) -> str:
    configs = _distinct(trials, "config")
    fault_names = faults.order(_distinct(trials, "fault"))
    under = (f" under fault{'s' if len(fault_names) != 1 else ''} {', '.join(f'`{f}`' for f in fault_names)}"
             if fault_names else "")
    servers = _servers(trials, environment)
    it = "they were" if len(servers) > 1 else "it was"
    return (f"How many acknowledged sessions {' and '.join(f'`{s}`' for s in servers)} lost when {it} crashed under a "
            f"session-store load, for {len(configs)} persistence config{'s' if len(configs) != 1 else ''} "
            f"({', '.join(f'`{c}`' for c in configs)}){under}.")


def _setup(trials: pd.DataFrame, environment: dict, summary: pd.DataFrame) -> list[str]:
    backend = _env_or_trials(environment, trials, "backend")
    several = len(_distinct(trials, "server")) > 1
    # environment.json's image is the first server's: with several, the images the trials ran.
    image = _one_or_many(_distinct(trials, "image")) if several else \
        _env_or_trials(environment, trials, "image_used", "image")
    duration = _env_or_trials(environment, trials, "duration_s")
    concurrency = _env_or_trials(environment, trials, "concurrency")
    per_config = _trials_per_config(summary)
    keys = "server, config and fault" if several else "config and fault"
    setup = []
    if backend:
        setup.append(f"backend `{backend}`")
    if image and (backend or "").lower() != "process":
        setup.append(f"image{'s' if ', ' in image else ''} `{image}`")
    if per_config:
        setup.append(f"{per_config} per {keys}")
    if duration:
        setup.append(f"a {duration}-second load per trial")
    if concurrency:
        setup.append(f"{concurrency} concurrent clients")
    rate = (environment.get("workload") or {}).get("rate_ops_s")
    if rate:
        setup.append(f"an offered load of {fmt.rate(float(rate))} ops/s (not as fast as the server goes: "
                     f"throughput shows whether it kept up, not its ceiling)")
    return setup


def describe_run(trials: pd.DataFrame, environment: dict, summary: pd.DataFrame) -> str:
    """The opening paragraph, from the typed trials frame, environment.json and the summary."""
    parts = [_what(trials, environment)]
    setup = _setup(trials, environment, summary)
    if setup:
        parts.append("Setup: " + "; ".join(setup) + ".")
    parts.append("Every number in this report was measured in this run; medians over trials, min–max in brackets.")
    return " ".join(parts)
