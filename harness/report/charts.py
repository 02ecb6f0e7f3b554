"""The two overview charts: the measured trade-off (speed against loss) and latency around each fault.

Figures are created through the object API and closed after saving, so building many reports
in one process does not accumulate figures. The per-trial charts are in `perf.py`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from harness.report import fmt
from harness.report.faults import fault_label, fault_order
from harness.report.plotting import (FAILED_COLOR, FAILED_RESTART_COLOR, MARKERS, OUTAGE_COLOR, UNKNOWN_COLOR, colors, draw_latency,
                                     draw_missing, plt, right_edge, save, shade_fault)
from harness.report.rundata import RunData, read_history
from harness.report.series import LatencySeries, Panel, choose_panels, latency_series

__all__ = ["tradeoff_chart", "latency_chart", "latency_series", "choose_panels", "LatencySeries", "Panel"]


# -- trade-off ----------------------------------------------------------------------------------

def _error(median: float, low: float, high: float) -> tuple[float, float]:
    """Asymmetric error-bar lengths; zero where the spread is unknown."""
    if any(fmt.is_missing(v) for v in (median, low, high)):
        return 0.0, 0.0
    return max(median - low, 0.0), max(high - median, 0.0)


def _place_labels(ax, labels: list[tuple[float, float, str]]) -> None:
    """Label each point, stepping a label down when it would sit on an earlier one.

    Zero-loss configs of similar speed land almost on the same spot; without this their
    names print over each other. Positions are compared in pixels, after the axes are final.
    """
    ax.figure.canvas.draw()  # settle the constrained layout so data -> pixel is final
    px_per_pt = ax.figure.dpi / 72
    step = 11.0  # points, about one line of 9 pt text
    placed: list[tuple[float, float, float]] = []  # pixel x, pixel y of the label, label width in px
    for x, y, label in labels:
        px, py = ax.transData.transform((x, y))
        width = len(label) * 5.5 * px_per_pt
        # Try just above the point, then alternately below and above, one line further each time.
        candidates = [6.0] + [sign * (6.0 + step * k) - (step if sign < 0 else 0.0)
                              for k in range(1, 12) for sign in (-1, 1)]
        offset = next((c for c in candidates if not any(
            abs(px - qx) < max(width, qw) and abs(py + c * px_per_pt - qy) < step * px_per_pt
            for qx, qy, qw in placed)), candidates[-1])
        placed.append((px, py + offset * px_per_pt, width))
        # A moved label gets a thin leader line, so it still points at its own marker.
        leader = None if offset == 6.0 else {"arrowstyle": "-", "color": "0.55", "linewidth": 0.6}
        ax.annotate(label, (x, y), xytext=(6, offset), textcoords="offset points", fontsize=9,
                    arrowprops=leader)


def _restart_note(row: pd.Series) -> str:
    failed = row.get("restart_failed")
    if fmt.is_missing(failed) or float(failed) <= 0:
        return ""
    return f", restart failed {fmt.of(failed, row.get('trials'))}"


def tradeoff_chart(summary: pd.DataFrame, path: Path) -> Path:
    """Throughput against lost sessions per (config, fault).

    With one fault, colour tells configs apart. With several, colour and marker tell the faults
    apart and a thin line joins each config's points, so the reader sees where configs that
    behave alike under kill -9 part under a power loss.
    """
    fig, ax = plt.subplots(figsize=(8.0, 5.2), layout="constrained")
    configs = [str(c) for c in dict.fromkeys(summary["config"].tolist())] if not summary.empty else []
    faults = fault_order(summary["fault"].tolist()) if not summary.empty else []
    several = len(faults) > 1
    palette = colors(faults) if several else colors(configs)
    markers = {fault: MARKERS[i % len(MARKERS)] for i, fault in enumerate(faults)}

    plotted = 0
    labels: list[tuple[float, float, str]] = []
    points: dict[str, list[tuple[float, float]]] = {}
    for _, row in summary.iterrows():
        x, y = row.get("throughput_ops_s"), row.get("lost_sessions")
        if fmt.is_missing(x) or fmt.is_missing(y):
            continue  # nothing to place; the table still shows the row
        config, fault = str(row["config"]), str(row["fault"])
        xerr = _error(x, row.get("throughput_ops_s_min"), row.get("throughput_ops_s_max"))
        yerr = _error(y, row.get("lost_sessions_min"), row.get("lost_sessions_max"))
        color = palette[fault] if several else palette[config]
        restart = _restart_note(row)
        # A hollow marker: this row's loss includes trials where nothing came back at all.
        ax.errorbar([x], [y], xerr=[[xerr[0]], [xerr[1]]], yerr=[[yerr[0]], [yerr[1]]],
                    fmt=markers[fault], color=color, markersize=8, capsize=4, elinewidth=1.2,
                    markerfacecolor="white" if restart else color, markeredgewidth=1.6 if restart else 1.0)
        labels.append((float(x), float(y), config + restart))
        points.setdefault(config, []).append((float(x), float(y)))
        plotted += 1
    if several:
        for config_points in points.values():
            if len(config_points) > 1:
                xs, ys = zip(*config_points)
                ax.plot(xs, ys, color="0.6", linewidth=0.8, linestyle=":", zorder=0)

    # symlog: linear around 0 (a config that lost nothing sits on the axis, visible), logarithmic
    # above, so 3 lost sessions and 5,000 lost sessions are both readable on one chart.
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=-1.2)  # the linear band below 0 leaves room for labels of zero-loss configs
    if plotted:
        top = max(float(v) for v in summary["lost_sessions_max"].fillna(0).tolist() + [1.0])
        ax.set_ylim(top=top * 6 + 2)  # room for the labels above the worst case
    bottom, top = ax.get_ylim()
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= top])  # no ticks in the label band below 0
    ax.set_ylim(bottom, top)
    # Negative counts are only the label band below 0: no tick text there.
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.count(round(v)) if v >= 0 else ""))
    if plotted:
        ax.margins(x=0.08)
        left, right = ax.get_xlim()
        ax.set_xlim(left, right + 0.15 * (right - left))  # labels are written to the right of points
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.rate(v)))
    ax.set_xlabel("Throughput of acknowledged operations before the fault (ops/s, measured; median, bar = min–max)")
    ax.set_ylabel("Acknowledged sessions lost (measured; median, bar = min–max)")
    ax.set_title("Measured trade-off: speed against sessions lost, per persistence config"
                 + (" and fault" if several else ""))
    ax.grid(True, which="major", alpha=0.3)
    _place_labels(ax, labels)
    if several:
        handles = [Line2D([], [], color=palette[f], marker=markers[f], linestyle="", label=f) for f in faults]
        if any(_restart_note(row) for _, row in summary.iterrows()):
            handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="",
                                  label="restart failed in some trials"))
        ax.legend(handles=handles, title="fault", loc="best")
    if plotted == 0:
        ax.text(0.5, 0.5, "no trial has both a throughput and a lost-session count", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
    return save(fig, path)


# -- latency around the fault: one panel per (config, fault) ------------------------------------

def _title(panel: Panel) -> str:
    return f"{panel.config} · {fault_label(panel.fault)}  ({panel.trial_id})"


def latency_chart(run: RunData, path: Path) -> tuple[Path, list[str]]:
    """The first trial of each (config, fault), one panel each: a row per config and a column per
    fault when every config ran under several faults. Returns the file and notes about panels that
    had to be skipped."""
    panels = choose_panels(run.trials)
    faults = fault_order([p.fault for p in panels])
    notes: list[str] = []
    n = max(len(panels), 1)
    configs = list(dict.fromkeys(p.config for p in panels))
    # Every config run under several faults (the matrix as the harness runs it): a row per config, a
    # column per fault, so a config's faults sit side by side. Anything else wraps three to a row.
    dense = len(faults) > 1 and len(panels) == len(configs) * len(faults)
    cells = {(p.config, p.fault): p for p in panels} if dense else None
    cols = len(faults) if dense else min(3, n)
    rows = len(configs) if dense else math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.0 * rows + 0.8), squeeze=False,
                             layout="constrained")
    if cells is not None:
        layout = [(axes[r][c], cells.get((config, fault))) for r, config in enumerate(configs)
                  for c, fault in enumerate(faults)]
    else:
        flat = axes.ravel()
        layout = [(flat[i], panels[i] if i < len(panels) else None) for i in range(len(flat))]
    palette = colors(configs)
    drawn = 0
    for ax, panel in layout:
        if panel is None:
            ax.set_visible(False)
            continue
        where = f"`{panel.config}`" + (f" under `{panel.fault}`" if len(faults) > 1 else "")
        history = read_history(run.history_path(panel.trial_id))
        if history is None:
            reason = f"history {panel.trial_id}.parquet missing or unreadable"
            draw_missing(ax, _title(panel), reason)
            notes.append(f"Latency panel for {where} skipped: {reason}.")
            continue
        series = latency_series(history, panel.load_start_ns)
        if series.empty:
            reason = f"history {panel.trial_id}.parquet has no load or after-fault operations"
            draw_missing(ax, _title(panel), reason)
            notes.append(f"Latency panel for {where} skipped: {reason}.")
            continue
        draw_latency(ax, series, palette[panel.config])
        shade_fault(ax, panel, right_edge(series, panel))
        ax.set_title(_title(panel), fontsize=9)
        ax.set_xlabel("seconds since load start", fontsize=8)
        ax.set_ylabel("latency (ms, log)", fontsize=8)
        ax.tick_params(labelsize=7)
        drawn += 1
    if not panels:
        ax = axes[0][0]
        ax.set_visible(True)
        ax.text(0.5, 0.5, "no trials to plot", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    if drawn:
        # A fixed legend: the first panel may have no unknown operations to borrow a handle from.
        handles = [Line2D([], [], color="0.2", linewidth=1.0, label="p50 per 100 ms"),
                   Line2D([], [], color="0.2", linewidth=1.0, alpha=0.45, label="p99 per 100 ms"),
                   Line2D([], [], color=UNKNOWN_COLOR, marker="x", linestyle="", label="unknown outcome"),
                   Line2D([], [], color=FAILED_COLOR, marker="|", linestyle="", label="failed (error reply)"),
                   Patch(color=OUTAGE_COLOR, label="outage (fault to ready)")]
        if any(p.restart_failed for p in panels):
            handles.append(Patch(color=FAILED_RESTART_COLOR, label="restart failed"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle("Measured latency of acknowledged operations around the fault (first trial of each config"
                 + (" and fault)" if len(faults) > 1 else ")"), fontsize=10)
    return save(fig, path), notes
