"""What the numbers do not say: fixed method caveats, plus the ones this run's environment triggers."""

from __future__ import annotations

import pandas as pd

from harness import faults
from harness.report import fmt
from harness.report.sections.crash_matrix.summary import KEYS


def _trial_counts(trials: pd.DataFrame) -> list[int]:
    """The distinct numbers of trials per (server, config, fault)."""
    return sorted({int(n) for n in trials.groupby(list(KEYS), sort=False).size()}) if len(trials) else []


def _distinct(trials: pd.DataFrame, column: str) -> list[str]:
    """The values a fault's column took over the run, as text, as first seen."""
    values = (fmt.text(fmt.plain(v)) for v in trials[column].dropna())
    return list(dict.fromkeys(v for v in values if v))


def fault_caveats(trials: pd.DataFrame) -> list[str]:
    """Each measured fault's own caveat, given the values its columns took over the run (said once each)."""
    notes: list[str] = []
    measured = [faults.info(name) for name in faults.order(trials["fault"])]
    for fault in measured:
        columns = fault.columns.columns() if fault.columns else []
        caveat = fault.caveat({c: _distinct(trials, c) for c in columns}, measured)
        if caveat and caveat not in notes:
            notes.append(caveat)
    return notes


def caveats(environment: dict, trials: pd.DataFrame) -> list[str]:
    """What the numbers do not say, given the run's environment and its trials (the typed frame)."""
    environment = environment or {}
    return [*_unfinished(environment), *fault_caveats(trials), _trial_length(environment),
            _one_machine(environment, trials), *_image(environment), *_process(environment)]


def _unfinished(environment: dict) -> list[str]:
    """Trials a cluster run could not finish, and trials it ran again after their worker left."""
    notes = []
    failed = [f for f in environment.get("failed_trials") or [] if isinstance(f, dict)]
    if failed:
        notes.append(f"{len(failed)} trial{'s' if len(failed) != 1 else ''} did not finish and {'are' if len(failed) != 1 else 'is'} "
                     "missing from every table: " + "; ".join(f"`{f.get('trial_id')}` ({f.get('reason')})" for f in failed)
                     + ".")
    reruns = [r for r in environment.get("reruns") or [] if isinstance(r, dict)]
    if reruns:
        notes.append("Run again after the worker running it left mid-trial (only the finished attempt counts): "
                     + ", ".join(f"`{r.get('trial_id')}` ({r.get('attempts')} attempts)" for r in reruns) + ".")
    return notes


def _trial_length(environment: dict) -> str:
    duration = environment.get("duration_s")
    length = f"{fmt.plain(duration)} seconds" if not fmt.is_missing(duration) else "only as long as its load"
    return ("RDB loses everything written since the last finished save. A trial's load lasts "
            f"{length}, so an RDB config's loss here is bounded by the trial length rather than by its save "
            "interval: a server that runs longer between saves can lose up to a whole save interval of writes.")


def _one_machine(environment: dict, trials: pd.DataFrame) -> str:
    cpus = environment.get("cpu_count")
    machine = f"one machine ({fmt.plain(cpus)} CPUs)" if not fmt.is_missing(cpus) else "one machine"
    counts = _trial_counts(trials)
    spread = ("; with one trial per config there is no spread to judge noise by"
              if counts == [1] else ", with the min–max over trials in brackets")
    hosts = trials["host"].astype(str).nunique() if len(trials) else 0
    if hosts > 1:
        return (f"Trials ran on {hosts} machines, each trial's load generator sharing its machine's CPU with the "
                f"server: compare configs within this run (and within a host, where the hosts differ). The tables "
                f"quote medians{spread}.")
    return (f"Everything ran on {machine}, the load generator sharing the CPU with the server: compare configs "
            f"within this run, not with other machines or runs. The tables quote medians{spread}.")


def _servers(environment: dict) -> list[dict]:
    """Each server the run measured (environment.json `servers`), when there were several."""
    servers = [s for s in environment.get("servers") or [] if isinstance(s, dict)]
    return servers if len(servers) > 1 else []


def _image(environment: dict) -> list[str]:
    """The image measured, when it was not the one asked for (each server's, when there were several)."""
    several = _servers(environment)
    if several:
        return [_image_one(s) for s in several if s.get("image_built_locally") and s.get("image_note")]
    if not environment.get("image_built_locally"):
        return []
    return [_image_one(environment)]


def _image_one(environment: dict) -> str:
    requested = environment.get("image")
    used = environment.get("image_used")
    note = environment.get("image_note")
    if str(requested or "").startswith("/"):  # a server named by its binary (--servers PATH): built on purpose
        return f"The server binary `{requested}` ran in an image built from it (`{used}`): {note}."
    text = (f"The requested image `{requested}` could not be pulled" if requested
            else "The requested image could not be pulled")
    text += f"; what was measured instead is `{used}`" if used and used != requested else \
        "; a locally built image was measured instead"
    text += f": {note}" if note else "."
    return text if text.endswith(".") else text + "."


def _process(environment: dict) -> list[str]:
    if str(environment.get("backend", "")).lower() != "process":
        return []
    several = _servers(environment)
    if several:
        ran = "; ".join(f"`{s.get('label')}` from {s.get('binary_origin') or s.get('binary')}" for s in several)
        return [f"The servers ran as local processes, not in containers ({ran}), so no image was involved in what "
                "was measured."]
    binary = environment.get("binary")
    where = f" (`{binary}`)" if binary else ""
    return [f"The server ran as a local process{where}, not in a container, so no image was involved "
            "in what was measured."]
