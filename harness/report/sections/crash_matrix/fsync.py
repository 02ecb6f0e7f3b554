"""The disk's limit, next to the configs that fsync on every write.

environment.json's `disk_fsync` holds this data directory's measured fsync rate (append
4 KiB + fdatasync in a loop). `appendfsync always` makes one fdatasync per event-loop turn,
so one client cannot get past that rate; several clients can, because the writes that
arrive in one turn share its fsync. Pure: environment, summary and config texts in, sentences out.
"""

from __future__ import annotations

import re

import pandas as pd

from harness import faults
from harness.disk import BLOCK
from harness.report import fmt

_DIRECTIVE = re.compile(r"^\s*(appendonly|appendfsync)\s+\"?([A-Za-z]+)\"?\s*(?:#.*)?$", re.IGNORECASE)


def fsyncs_every_write(name: str, text: str | None) -> bool:
    """Does this config fsync before replying? Read from its file (the last directive wins,
    as in redis.conf); a config whose file was not kept is judged by its shipped name."""
    if text is None:
        return name == "aof-always"
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2).lower()
    return found.get("appendonly") == "yes" and found.get("appendfsync") == "always"


def _probe(environment: dict) -> dict | None:
    probe = environment.get("disk_fsync")
    if not isinstance(probe, dict) or fmt.is_missing(probe.get("fsyncs_per_s")):
        return None
    return probe


def _concurrency(environment: dict, trials: pd.DataFrame | None) -> str | None:
    workload = environment.get("workload")
    value = workload.get("concurrency") if isinstance(workload, dict) else None
    if fmt.is_missing(value) and trials is not None:
        values = trials["concurrency"][trials["concurrency"] > 0]  # 0: not recorded
        value = values.iloc[0] if len(values) and values.nunique() == 1 else None
    return None if fmt.is_missing(value) else fmt.count(value)


def _measured(summary: pd.DataFrame, config: str) -> str:
    """'19,048 ops/s', or one figure per fault (and server, when there are several) it was run under."""
    several_servers = summary["server"].nunique() > 1
    rows = summary[summary["config"].astype(str) == config]
    rows = rows[rows["throughput_ops_s"].notna()]
    if len(rows) == 1 and not several_servers:
        return f"{fmt.rate(rows.iloc[0]['throughput_ops_s'])} ops/s"
    return " and ".join(f"{fmt.rate(r['throughput_ops_s'])} ops/s ("
                        + (f"`{r['server']}`, " if several_servers else "") + f"fault `{r['fault']}`)"
                        for _, r in rows.iterrows())


def fsync_notes(environment: dict, summary: pd.DataFrame, config_texts: dict[str, str | None],
                trials: pd.DataFrame | None = None) -> list[str]:
    """The fsync rate, and what it means for every config that fsyncs on each write; [] if not measured."""
    probe = _probe(environment or {})
    if probe is None:
        return []
    rate = fmt.rate(probe["fsyncs_per_s"])
    where = f" (`{probe['filesystem']}`)" if fmt.text(probe.get("filesystem")) else ""
    latency = ", ".join(f"{name} {fmt.ms(probe.get(key))} ms" for name, key in
                        (("p50", "p50_ms"), ("p99", "p99_ms"), ("max", "max_ms")) if not fmt.is_missing(probe.get(key)))
    how = f"{fmt.count(probe['fsyncs'])} fsyncs in {fmt.seconds(probe['seconds'])} s" \
        if not fmt.is_missing(probe.get("fsyncs")) and not fmt.is_missing(probe.get("seconds")) else None
    detail = "; ".join(part for part in (how, latency) if part)
    sentence = (f"**The disk's limit:** this data directory{where} took {rate} fsyncs/s before the matrix ran "
                f"(append {len(BLOCK) // 1024} KiB, then fdatasync, in a loop{'; ' + detail if detail else ''}).")

    configs = [] if summary.empty else [str(c) for c in dict.fromkeys(summary["config"].astype(str))]
    always = [c for c in configs if fsyncs_every_write(c, config_texts.get(c))]
    if always:
        clients = _concurrency(environment or {}, trials)
        with_clients = f" with {clients} clients" if clients else ""
        figures = {c: _measured(summary, c) for c in always}
        measured = "; ".join(f"`{c}` measured {figure}" for c, figure in figures.items() if figure)
        sentence += (f" `appendfsync always` makes one fdatasync per event-loop turn, so a single client could not "
                     f"exceed {rate} writes/s here")
        sentence += f"; {measured}{with_clients}, whose writes share fsyncs." if measured else "."
    if not summary.empty and any(faults.info(f).cuts_power for f in summary["fault"].astype(str)):
        # The probe ran on the real data directory; a power-loss trial's files sit on the simulated one.
        sentence += (" Power-loss trials wrote through the simulated filesystem instead, whose fsync rate was not "
                     "probed.")
    return [sentence]
