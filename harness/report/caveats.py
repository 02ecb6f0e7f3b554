"""What the numbers do not say: fixed method caveats, plus the ones this run's environment triggers."""

from __future__ import annotations

import pandas as pd

from harness.report import fmt
from harness.report.faults import POWER_FAULTS

METADATA_MODES = {
    "strict": "a file's name (a new file, a rename) survived a cut only once its directory was fsynced, as "
              "POSIX promises and no more",
    "lenient": "names (new files, renames) were durable at once; only file contents waited for an fsync",
}


def _faults(summary: pd.DataFrame | None) -> list[str]:
    if summary is None or summary.empty or "fault" not in summary.columns:
        return []
    return [str(f) for f in dict.fromkeys(summary["fault"].tolist())]


def _trial_counts(summary: pd.DataFrame | None) -> list[int]:
    if summary is None or summary.empty or "trials" not in summary.columns:
        return []
    return sorted({int(t) for t in summary["trials"].tolist() if not fmt.is_missing(t)})


def _distinct(summary: pd.DataFrame | None, column: str) -> list[str]:
    """The values a power-loss column took over the run (the summary joins them per row)."""
    if summary is None or summary.empty or column not in summary.columns:
        return []
    values = [v.strip() for cell in summary[column].tolist() if fmt.text(cell) for v in str(cell).split(",")]
    return list(dict.fromkeys(v for v in values if v))


def _writeback(value: str) -> str:
    if value.lower() in ("off", "none"):
        return "`off`: nothing became durable without an fsync"
    return (f"`{value}` s: data left unsynced that long was written back, as the kernel's flusher does, so a "
            f"write was at risk until it was fsynced or {value} s old")


def power_loss_caveat(summary: pd.DataFrame | None) -> str:
    """What the power-loss faults simulated, with the filesystem settings the trials recorded."""
    modes = _distinct(summary, "fs_metadata")
    writeback = _distinct(summary, "fs_writeback")
    text = ("The power loss was simulated, not done to a real machine: the server's data directory was a FUSE "
            "filesystem that holds every write not yet fsynced in memory and drops it when the power is cut "
            "(with torn writes, a random page-aligned part of it survives), then is remounted for the restart.")
    if modes:
        text += " Metadata mode " + "; ".join(
            f"`{m}`" + (f": {METADATA_MODES[m]}" if m in METADATA_MODES else "") for m in modes) + "."
    else:
        text += " The filesystem's metadata mode was not recorded."
    if writeback:
        text += " Writeback " + "; ".join(_writeback(w) for w in writeback) + "."
    else:
        text += " Its writeback setting was not recorded."
    text += (" The simulation assumes the disk honours fsync; a real disk whose volatile write cache "
             "acknowledges a flush early can lose fsynced writes too, so real hardware can lose more than "
             "measured here.")
    text += (" Under the power-loss faults every write goes through that FUSE filesystem, which costs speed "
             "(most for configs that fsync often, such as `appendfsync always`): compare speeds under kill -9, "
             "where the server writes to the plain disk.")
    return text


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
    if POWER_FAULTS.intersection(faults):
        notes.append(power_loss_caveat(summary))

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
