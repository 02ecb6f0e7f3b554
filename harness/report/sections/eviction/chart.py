"""The eviction chart: memory filling up, and sessions evicted over time, per policy and other data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report import plotting
from harness.report.rundata import RunData
from harness.runner.evidence import read_evidence
from harness.checkers.eviction import SESSION, key_class

plt = plotting.plt


def _first_trials(run: RunData) -> pd.DataFrame:
    """The first trial of each (policy, other data)."""
    return run.trials.drop_duplicates(subset=["config", "other_data"], keep="first")


def _series(run_dir: Path, row: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    evidence = read_evidence(run_dir / "evidence" / str(row["trial_id"]))
    memory, evicted = evidence.get("memory"), evidence.get("evicted")
    if memory is None or evicted is None:
        return None
    start = float(row["load_start_ns"])
    memory = memory.assign(t_s=(memory["t_ns"] - start) / 1e9, mb=memory["used_memory"] / 1024**2)
    sessions = evicted[evicted["key"].astype(str).map(lambda k: key_class(k)[0] == SESSION).astype(bool)]
    sessions = sessions.assign(t_s=(sessions["received_ns"] - start) / 1e9).sort_values("t_s")
    return memory, sessions.assign(count=range(1, len(sessions) + 1))


def eviction_chart(run: RunData, path: Path) -> Path | None:
    first = _first_trials(run)
    variants = list(dict.fromkeys(first["other_data"].astype(str)))
    if not len(first):
        return None
    colors = plotting.colors(list(dict.fromkeys(first["config"].astype(str))))
    fig, axes = plt.subplots(2, len(variants), figsize=(5.2 * len(variants), 6.4), squeeze=False, sharex=True)
    drawn = False
    for column, variant in enumerate(variants):
        top, bottom = axes[0][column], axes[1][column]
        for _, row in first[first["other_data"].astype(str) == variant].iterrows():
            series = _series(run.run_dir, row)
            if series is None:
                continue
            memory, sessions = series
            color = colors[str(row["config"])]
            top.plot(memory["t_s"], memory["mb"], color=color, linewidth=1.0, label=str(row["config"]))
            bottom.step(pd.concat([pd.Series([0.0]), sessions["t_s"]]), [0, *sessions["count"]], where="post",
                        color=color, linewidth=1.0, label=str(row["config"]))
            drawn = True
        limit = first["maxmemory_bytes"].max() / 1024**2
        top.axhline(limit, color="0.4", linestyle="--", linewidth=0.8)
        top.set_title(f"other data {'with' if variant == 'ttl' else 'without'} TTLs", fontsize=9)
        top.set_ylabel("used memory (MB)", fontsize=8)
        bottom.set_ylabel("sessions evicted (cumulative)", fontsize=8)
        bottom.set_xlabel("seconds since the load started", fontsize=8)
        top.legend(fontsize=7, loc="lower right")
    if not drawn:
        plt.close(fig)
        return None
    fig.tight_layout()
    return plotting.save(fig, path)
