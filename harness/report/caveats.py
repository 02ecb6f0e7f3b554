"""What the numbers do not say: fixed method caveats, plus the ones this run's environment triggers."""

from __future__ import annotations

import pandas as pd

from harness.report import fmt

POWER_FAULTS = {"power-loss", "torn-power-loss"}


def _faults(summary: pd.DataFrame | None) -> list[str]:
    if summary is None or summary.empty or "fault" not in summary.columns:
        return []
    return [str(f) for f in dict.fromkeys(summary["fault"].tolist())]


def _trial_counts(summary: pd.DataFrame | None) -> list[int]:
    if summary is None or summary.empty or "trials" not in summary.columns:
        return []
    return sorted({int(t) for t in summary["trials"].tolist() if not fmt.is_missing(t)})


def caveats(environment: dict, summary: pd.DataFrame | None) -> list[str]:
    environment = environment or {}
    faults = _faults(summary)
    notes: list[str] = []

    if "kill9" in faults or not faults:
        measured_power = POWER_FAULTS.intersection(faults)
        notes.append(
            "kill -9 is a process crash: the operating system and its page cache survive it, so whatever "
            "Redis had written to a file reaches the disk even if it was never fsynced. That is why the "
            "appendfsync settings (always, everysec, no) differ little under kill -9. A power loss, which "
            "drops the page cache, is a different fault"
            + (" and is reported under its own fault name." if measured_power else " and is not measured here."))

    duration = environment.get("duration_s")
    length = f"{fmt.plain(duration)} seconds" if not fmt.is_missing(duration) else "only as long as its load"
    notes.append(
        "RDB loses everything written since the last finished save. A trial's load lasts "
        f"{length}, so an RDB config's loss here is bounded by the trial length rather than by its save "
        "interval: a server that runs longer between saves can lose up to a whole save interval of writes.")

    cpus = environment.get("cpu_count")
    machine = f"one machine ({fmt.plain(cpus)} CPUs)" if not fmt.is_missing(cpus) else "one machine"
    counts = _trial_counts(summary)
    spread = ("; with one trial per config there is no spread to judge noise by"
              if counts == [1] else ", with the min–max over trials in brackets")
    notes.append(
        f"Everything ran on {machine}, the load generator sharing the CPU with the server: compare configs "
        f"within this run, not with other machines or runs. The tables quote medians{spread}.")

    if environment.get("image_built_locally"):
        requested = environment.get("image")
        used = environment.get("image_used")
        note = environment.get("image_note")
        text = (f"The requested image `{requested}` could not be pulled" if requested
                else "The requested image could not be pulled")
        text += f"; what was measured instead is `{used}`" if used and used != requested else \
            "; a locally built image was measured instead"
        text += f": {note}" if note else "."
        notes.append(text if text.endswith(".") else text + ".")

    if str(environment.get("backend", "")).lower() == "process":
        binary = environment.get("binary")
        where = f" (`{binary}`)" if binary else ""
        notes.append(f"The server ran as a local process{where}, not in a container, so no image was involved "
                     "in what was measured.")
    return notes
