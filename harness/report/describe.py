"""The report's opening paragraph: what was measured, on what, how many times.

Read from trials.csv first (what actually ran) and environment.json second (what was asked),
so a report of an older or partial run still says as much as its data allows.
"""

from __future__ import annotations

import pandas as pd

from harness.report import fmt


def _distinct(trials: pd.DataFrame, column: str) -> list[str]:
    if column not in trials.columns:
        return []
    return [fmt.plain(v) for v in dict.fromkeys(trials[column].dropna().tolist())]


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
    if summary.empty or "trials" not in summary.columns:
        return None
    counts = sorted({int(t) for t in summary["trials"]})
    if counts == [1]:
        return "1 trial"
    return f"{counts[0]} trials" if len(counts) == 1 else f"{counts[0]}{fmt.DASH}{counts[-1]} trials"


def describe_run(trials: pd.DataFrame, environment: dict, summary: pd.DataFrame) -> str:
    server = _one_or_many(_distinct(trials, "server"))
    if not server:
        name, version = environment.get("server"), environment.get("server_version")
        server = " ".join(str(v) for v in (name, version) if v) or "the server"
    configs = _distinct(trials, "config")
    faults = _distinct(trials, "fault") or ["kill9"]
    backend = _env_or_trials(environment, trials, "backend")
    image = _env_or_trials(environment, trials, "image_used", "image")
    duration = _env_or_trials(environment, trials, "duration_s")
    concurrency = _env_or_trials(environment, trials, "concurrency")
    per_config = _trials_per_config(summary)

    parts = [f"How many acknowledged sessions `{server}` lost when it was crashed under a session-store load, "
             f"for {len(configs)} persistence config{'s' if len(configs) != 1 else ''} "
             f"({', '.join(f'`{c}`' for c in configs)}) under fault{'s' if len(faults) != 1 else ''} "
             f"{', '.join(f'`{f}`' for f in faults)}."]
    setup = []
    if backend:
        setup.append(f"backend `{backend}`")
    if image and (backend or "").lower() != "process":
        setup.append(f"image `{image}`")
    if per_config:
        setup.append(f"{per_config} per config and fault")
    if duration:
        setup.append(f"a {duration}-second load per trial")
    if concurrency:
        setup.append(f"{concurrency} concurrent clients")
    rate = (environment.get("workload") or {}).get("rate_ops_s")
    if rate:
        setup.append(f"an offered load of {fmt.rate(float(rate))} ops/s (not as fast as the server goes: "
                     f"throughput shows whether it kept up, not its ceiling)")
    if setup:
        parts.append("Setup: " + "; ".join(setup) + ".")
    parts.append("Every number in this report was measured in this run; medians over trials, min–max in brackets.")
    return " ".join(parts)
