"""matplotlib setup and the drawing pieces the overview and the per-trial charts share.

The Agg backend only: reports are built on servers and in CI, with no display. This module is
imported before pyplot anywhere in the report package, so the backend is set first.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no GUI backend, ever

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from harness import faults  # noqa: E402
from harness.report import fmt  # noqa: E402
from harness.report.series import LatencySeries, Panel  # noqa: E402

DPI = 110
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
OUTAGE_COLOR = "0.85"
FAILED_RESTART_COLOR = "#f4c7c3"  # a restart that never came: a warmer shade than an outage that ended
UNKNOWN_COLOR = "crimson"
FAILED_COLOR = "#6a3d9a"  # violet: not in the default line colours, so never a config's


def colors(names: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def save(fig: Figure, path: Path, close: bool = True) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    if close:
        plt.close(fig)
    return path


def shade_fault(ax, panel: Panel, right_s: float, labels: bool = True) -> None:
    """The fault window, from the fault to ready (or, when the restart failed, to the chart's end)."""
    if fmt.is_missing(panel.fault_at_s):
        return
    end = right_s if panel.restart_failed or fmt.is_missing(panel.ready_at_s) else panel.ready_at_s
    ax.axvspan(panel.fault_at_s, max(end, panel.fault_at_s),
               color=FAILED_RESTART_COLOR if panel.restart_failed else OUTAGE_COLOR, zorder=0, linewidth=0)
    ax.axvline(panel.fault_at_s, color="0.2", linestyle="-", linewidth=1.0)
    if not panel.restart_failed and not fmt.is_missing(panel.ready_at_s):
        ax.axvline(panel.ready_at_s, color="0.2", linestyle="--", linewidth=1.0)
    if not labels:
        return
    # The outage can be a few ms wide: the fault's label goes left of its line, "ready" right of its own.
    ax.text(panel.fault_at_s, 0.99, f"{faults.info(panel.fault).label} ", transform=ax.get_xaxis_transform(),
            fontsize=7, va="top", ha="right")
    if panel.restart_failed:
        ax.text(panel.fault_at_s, 0.99, " restart failed", transform=ax.get_xaxis_transform(), fontsize=7,
                va="top", ha="left", color="darkred")
    elif not fmt.is_missing(panel.ready_at_s):
        ax.text(panel.ready_at_s, 0.99, " ready", transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                ha="left")


def counts_text(series: LatencySeries) -> str:
    return f"unknown: {fmt.count(series.unknown)}, failed: {fmt.count(series.failed)}"


def draw_latency(ax, series: LatencySeries, color: str, counts: bool = True) -> None:
    """p50 and p99 per bucket (log scale), unknown and failed operations as marks; `counts`
    writes their totals in the corner (the per-trial chart puts them under the axis instead)."""
    centres = series.centres_s
    ax.plot(centres, series.p50_ms, color=color, linewidth=1.0, label="p50 per 100 ms")
    ax.plot(centres, series.p99_ms, color=color, linewidth=1.0, alpha=0.45, label="p99 per 100 ms")
    if len(series.unknown_s):
        ax.scatter(series.unknown_s, series.unknown_ms, marker="x", color=UNKNOWN_COLOR, s=14, linewidths=0.8,
                   label="unknown outcome", zorder=3)
    if len(series.failed_s):
        ax.scatter(series.failed_s, series.failed_ms, marker="|", color=FAILED_COLOR, s=18, linewidths=0.8,
                   label="failed (error reply)", zorder=3)
    if ax.get_yscale() != "log":  # setting it again would rebuild the axis' ticks on a reused figure
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks crowd the axis (and cost time)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 3)  # headroom for the fault/ready labels above the data
    if counts:
        ax.text(0.99, 0.02, counts_text(series), transform=ax.transAxes, fontsize=7, ha="right", va="bottom",
                color="0.3")


def right_edge(series: LatencySeries, panel: Panel) -> float:
    """Where a chart's time axis ends: the last bucket, or the fault window if that is later."""
    ends = [float(series.bucket_s.max()) + 0.1] if len(series.bucket_s) else []
    ends += [float(v.max()) for v in (series.unknown_s, series.failed_s) if len(v)]
    ends += [v for v in (panel.fault_at_s, panel.ready_at_s) if not fmt.is_missing(v)]
    return max(ends) if ends else 1.0


def draw_missing(ax, title: str, reason: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, reason, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
