"""The latency overview: the first trial of each (server, config, fault), one panel each.

When every config ran under several faults (the matrix as the harness runs it) the panels form a
grid, a row per (server, config) and a column per fault, so a config's faults sit side by side;
anything else wraps three to a row. The per-trial charts are harness.report.perf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from harness import faults
from harness.report.plotting import (FAILED_COLOR, FAILED_RESTART_COLOR, OUTAGE_COLOR, UNKNOWN_COLOR, colors,
                                     draw_latency, draw_missing, plt, right_edge, save, shade_fault)
from harness.report.rundata import RunData, read_history
from harness.report.series import Panel, choose_panels, latency_series


@dataclass(frozen=True)
class _Grid:
    rows: int
    cols: int
    cells: list[tuple[int, int, Panel | None]]  # row, column, what goes there (None: an unused cell)


def _grid(panels: list[Panel]) -> _Grid:
    fault_names = faults.order(p.fault for p in panels)
    lines = list(dict.fromkeys((p.server, p.config) for p in panels))
    if len(fault_names) > 1 and len(panels) == len(lines) * len(fault_names):
        at = {(p.server, p.config, p.fault): p for p in panels}
        return _Grid(len(lines), len(fault_names), [(r, c, at.get((*line, fault))) for r, line in enumerate(lines)
                                                    for c, fault in enumerate(fault_names)])
    cols = min(3, max(len(panels), 1))
    rows = math.ceil(max(len(panels), 1) / cols)
    return _Grid(rows, cols, [(i // cols, i % cols, panels[i] if i < len(panels) else None)
                              for i in range(rows * cols)])


@dataclass(frozen=True)
class _Naming:
    """How a panel is named: the server and the fault only when the run has several of them."""

    several_servers: bool
    several_faults: bool

    def title(self, panel: Panel) -> str:
        server = f"{panel.server} · " if self.several_servers else ""
        return f"{server}{panel.config} · {faults.info(panel.fault).label}  ({panel.trial_id})"

    def where(self, panel: Panel) -> str:
        return (f"`{panel.config}`" + (f" on `{panel.server}`" if self.several_servers else "")
                + (f" under `{panel.fault}`" if self.several_faults else ""))


def _draw_panel(ax, run: RunData, panel: Panel, color: str, naming: _Naming) -> str | None:
    """Draw one panel; returns a note when its history cannot be drawn."""
    history = read_history(run.history_path(panel.trial_id))
    reason = f"history {panel.trial_id}.parquet missing or unreadable" if history is None else None
    series = latency_series(history, panel.load_start_ns) if history is not None else None
    if series is not None and series.empty:
        reason = f"history {panel.trial_id}.parquet has no load or after-fault operations"
    if reason:
        draw_missing(ax, naming.title(panel), reason)
        return f"Latency panel for {naming.where(panel)} skipped: {reason}."
    draw_latency(ax, series, color)
    shade_fault(ax, panel, right_edge(series, panel))
    ax.set_title(naming.title(panel), fontsize=9)
    ax.set_xlabel("seconds since load start", fontsize=8)
    ax.set_ylabel("latency (ms, log)", fontsize=8)
    ax.tick_params(labelsize=7)
    return None


def _legend(fig, panels: list[Panel]) -> None:
    # A fixed legend: the first panel may have no unknown operations to borrow a handle from.
    handles = [Line2D([], [], color="0.2", linewidth=1.0, label="p50 per 100 ms"),
               Line2D([], [], color="0.2", linewidth=1.0, alpha=0.45, label="p99 per 100 ms"),
               Line2D([], [], color=UNKNOWN_COLOR, marker="x", linestyle="", label="unknown outcome"),
               Line2D([], [], color=FAILED_COLOR, marker="|", linestyle="", label="failed (error reply)"),
               Patch(color=OUTAGE_COLOR, label="outage (fault to ready)")]
    if any(p.restart_failed for p in panels):
        handles.append(Patch(color=FAILED_RESTART_COLOR, label="restart failed"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)


def _nothing_to_plot(ax) -> None:
    ax.set_visible(True)
    ax.text(0.5, 0.5, "no trials to plot", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def latency_chart(run: RunData, path: Path) -> tuple[Path, list[str]]:
    """Write the overview; returns the file and notes about panels that had to be skipped."""
    panels = choose_panels(run.records)
    grid = _grid(panels)
    naming = _Naming(len({p.server for p in panels}) > 1, len({p.fault for p in panels}) > 1)
    palette = colors(list(dict.fromkeys(p.config for p in panels)))
    fig, axes = plt.subplots(grid.rows, grid.cols, figsize=(4.4 * grid.cols, 3.0 * grid.rows + 0.8), squeeze=False,
                             layout="constrained")
    notes: list[str] = []
    for row, col, panel in grid.cells:
        if panel is None:
            axes[row][col].set_visible(False)
            continue
        note = _draw_panel(axes[row][col], run, panel, palette[panel.config], naming)
        notes += [note] if note else []
    if not panels:
        _nothing_to_plot(axes[0][0])
    if len(notes) < len(panels):
        _legend(fig, panels)
    fig.suptitle("Measured latency of acknowledged operations around the fault (first trial of each config"
                 + (" and fault)" if naming.several_faults else ")"), fontsize=10)
    return save(fig, path), notes
