"""The two charts: the measured trade-off (speed against loss) and latency around the crash.

matplotlib with the Agg backend only: reports are built on servers and in CI, with no display.
Figures are created through the object API and closed after saving, so building many reports
in one process does not accumulate figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no GUI backend, ever

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from harness.report import fmt  # noqa: E402
from harness.report.rundata import RunData, read_history  # noqa: E402

BUCKET_S = 0.1
MIN_LATENCY_MS = 1e-3  # a log axis cannot show 0 ms; clock granularity can produce it
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
DPI = 110


def _colors(configs: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return {config: cycle[i % len(cycle)] for i, config in enumerate(configs)}


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)
    return path


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


def tradeoff_chart(summary: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8.0, 5.2), layout="constrained")
    configs = [str(c) for c in dict.fromkeys(summary["config"].tolist())] if not summary.empty else []
    faults = [str(f) for f in dict.fromkeys(summary["fault"].tolist())] if not summary.empty else []
    colors = _colors(configs)
    markers = {fault: MARKERS[i % len(MARKERS)] for i, fault in enumerate(faults)}

    plotted = 0
    labels: list[tuple[float, float, str]] = []
    for _, row in summary.iterrows():
        x, y = row.get("throughput_ops_s"), row.get("lost_sessions")
        if fmt.is_missing(x) or fmt.is_missing(y):
            continue  # nothing to place; the table still shows the row
        xerr = _error(x, row.get("throughput_ops_s_min"), row.get("throughput_ops_s_max"))
        yerr = _error(y, row.get("lost_sessions_min"), row.get("lost_sessions_max"))
        ax.errorbar([x], [y], xerr=[[xerr[0]], [xerr[1]]], yerr=[[yerr[0]], [yerr[1]]],
                    fmt=markers[str(row["fault"])], color=colors[str(row["config"])], markersize=8,
                    capsize=4, elinewidth=1.2)
        label = str(row["config"]) if len(faults) == 1 else f"{row['config']} ({row['fault']})"
        labels.append((float(x), float(y), label))
        plotted += 1

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
    ax.set_xlabel("Throughput of acknowledged operations before the crash (ops/s, measured; median, bar = min–max)")
    ax.set_ylabel("Acknowledged sessions lost (measured; median, bar = min–max)")
    ax.set_title("Measured trade-off: speed against sessions lost in a crash, per persistence config")
    ax.grid(True, which="major", alpha=0.3)
    _place_labels(ax, labels)
    if len(faults) > 1:
        handles = [Line2D([], [], color="0.3", marker=markers[f], linestyle="", label=f) for f in faults]
        ax.legend(handles=handles, title="fault", loc="best")
    if plotted == 0:
        ax.text(0.5, 0.5, "no trial has both a throughput and a lost-session count", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
    return _save(fig, path)


# -- latency around the crash -------------------------------------------------------------------

@dataclass(frozen=True)
class Panel:
    config: str
    trial_id: str
    fault: str
    load_start_ns: float  # NaN: take it from the history
    kill_at_s: float
    ready_at_s: float


def _float(row: pd.Series, name: str) -> float:
    value = row.get(name)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def choose_panels(trials: pd.DataFrame) -> list[Panel]:
    """First kill -9 trial of each config (by trial number), else its first trial of any fault."""
    if trials.empty or "config" not in trials.columns:
        return []
    panels = []
    for config in dict.fromkeys(trials["config"].astype(str).tolist()):
        rows = trials[trials["config"].astype(str) == config]
        if "fault" in rows.columns and (rows["fault"].astype(str) == "kill9").any():
            rows = rows[rows["fault"].astype(str) == "kill9"]
        if "trial" in rows.columns:
            rows = rows.sort_values("trial", kind="stable")
        row = rows.iloc[0]
        load_start = _float(row, "load_start_ns")
        kill_at, ready_at = _float(row, "kill_at_s"), _float(row, "ready_at_s")
        # Older rows may carry only the wall-clock stamps; derive the offsets from them.
        if fmt.is_missing(kill_at) and not fmt.is_missing(load_start):
            kill_at = (_float(row, "kill_ns") - load_start) / 1e9
        if fmt.is_missing(ready_at) and not fmt.is_missing(load_start):
            ready_at = (_float(row, "ready_ns") - load_start) / 1e9
        trial_id = str(row.get("trial_id", f"{config}__{row.get('fault', 'kill9')}__{row.get('trial', 1)}"))
        panels.append(Panel(config, trial_id, str(row.get("fault", "kill9")), load_start, kill_at, ready_at))
    return panels


@dataclass(frozen=True)
class LatencySeries:
    bucket_s: np.ndarray  # bucket centres, seconds since load start
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    unknown_s: np.ndarray  # unknown-outcome operations: start time and how long the client waited
    unknown_ms: np.ndarray
    failed: int


def latency_series(history: pd.DataFrame, load_start_ns: float) -> LatencySeries:
    """Per-100-ms p50/p99 of acknowledged operations, by start time, from load start onwards.

    Operations are placed at the moment the client asked: a request sent during the outage
    and answered after the restart shows as one long latency at the time the user waited.
    """
    history = history[history["phase"].astype(str) != "baseline"]
    if fmt.is_missing(load_start_ns):
        load_start_ns = float(history["start_ns"].min()) if len(history) else 0.0
    start = history["start_ns"].to_numpy(dtype="int64")
    t = (start - np.int64(int(load_start_ns))) / 1e9
    latency = np.maximum((history["end_ns"].to_numpy(dtype="int64") - start) / 1e6, MIN_LATENCY_MS)
    outcome = history["outcome"].astype(str).to_numpy()

    ok = outcome == "ok"
    frame = pd.DataFrame({"bucket": np.floor(t[ok] / BUCKET_S), "latency": latency[ok]})
    grouped = frame.groupby("bucket")["latency"]
    p50, p99 = grouped.quantile(0.5), grouped.quantile(0.99)
    if len(p50):
        # Empty buckets (the outage) become NaN so the lines break there instead of bridging it.
        every = np.arange(p50.index.min(), p50.index.max() + 1)
        p50, p99 = p50.reindex(every), p99.reindex(every)
    centres = (p50.index.to_numpy(dtype=float) + 0.5) * BUCKET_S
    unknown = outcome == "unknown"
    return LatencySeries(centres, p50.to_numpy(), p99.to_numpy(), t[unknown], latency[unknown],
                         int((outcome == "fail").sum()))


def _draw_panel(ax, panel: Panel, series: LatencySeries, color: str) -> None:
    ax.plot(series.bucket_s, series.p50_ms, color=color, linewidth=1.0, label="p50 per 100 ms")
    ax.plot(series.bucket_s, series.p99_ms, color=color, linewidth=1.0, alpha=0.45, label="p99 per 100 ms")
    if len(series.unknown_s):
        ax.scatter(series.unknown_s, series.unknown_ms, marker="x", color="crimson", s=14, linewidths=0.8,
                   label="unknown outcome", rasterized=True, zorder=3)
    if not fmt.is_missing(panel.kill_at_s) and not fmt.is_missing(panel.ready_at_s):
        ax.axvspan(panel.kill_at_s, panel.ready_at_s, color="0.85", label="outage", zorder=0)
    # The outage can be a few ms wide: the kill label goes left of its line, "ready" right of its own.
    kill_label = "kill -9" if panel.fault == "kill9" else panel.fault
    for at, label, style, side in ((panel.kill_at_s, f"{kill_label} ", "-", "right"),
                                   (panel.ready_at_s, " ready", "--", "left")):
        if fmt.is_missing(at):
            continue
        ax.axvline(at, color="0.2", linestyle=style, linewidth=1.0)
        ax.text(at, 0.99, label, transform=ax.get_xaxis_transform(), fontsize=7, va="top", ha=side)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 3)  # headroom for the kill/ready labels above the data
    ax.set_title(f"{panel.config}  ({panel.trial_id})", fontsize=9)
    counts = f"unknown: {fmt.count(len(series.unknown_s))}, failed: {fmt.count(series.failed)}"
    ax.text(0.99, 0.02, counts, transform=ax.transAxes, fontsize=7, ha="right", va="bottom", color="0.3")


def _draw_missing(ax, panel: Panel, reason: str) -> None:
    ax.set_title(f"{panel.config}  ({panel.trial_id})", fontsize=9)
    ax.text(0.5, 0.5, reason, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def latency_chart(run: RunData, path: Path) -> tuple[Path, list[str]]:
    """One panel per config; returns the file and notes about panels that had to be skipped."""
    panels = choose_panels(run.trials)
    notes: list[str] = []
    n = max(len(panels), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.0 * rows + 0.8), squeeze=False,
                             layout="constrained")
    flat = axes.ravel()
    colors = _colors([p.config for p in panels])
    drawn = 0
    for ax, panel in zip(flat, panels):
        history = read_history(run.history_path(panel.trial_id))
        if history is None:
            reason = f"history {panel.trial_id}.parquet missing or unreadable"
            _draw_missing(ax, panel, reason)
            notes.append(f"Latency panel for `{panel.config}` skipped: {reason}.")
            continue
        series = latency_series(history, panel.load_start_ns)
        if len(series.bucket_s) == 0 and len(series.unknown_s) == 0:
            reason = f"history {panel.trial_id}.parquet has no load or after-fault operations"
            _draw_missing(ax, panel, reason)
            notes.append(f"Latency panel for `{panel.config}` skipped: {reason}.")
            continue
        _draw_panel(ax, panel, series, colors[panel.config])
        ax.set_xlabel("seconds since load start", fontsize=8)
        ax.set_ylabel("latency (ms, log)", fontsize=8)
        ax.tick_params(labelsize=7)
        drawn += 1
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    if not panels:
        flat[0].set_visible(True)
        flat[0].text(0.5, 0.5, "no trials to plot", ha="center", va="center", transform=flat[0].transAxes)
        flat[0].set_xticks([])
        flat[0].set_yticks([])
    if drawn:
        # A fixed legend: the first panel may have no unknown operations to borrow a handle from.
        handles = [Line2D([], [], color="0.2", linewidth=1.0, label="p50 per 100 ms"),
                   Line2D([], [], color="0.2", linewidth=1.0, alpha=0.45, label="p99 per 100 ms"),
                   Line2D([], [], color="crimson", marker="x", linestyle="", label="unknown outcome"),
                   Patch(color="0.85", label="outage (kill to ready)")]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle("Measured latency of acknowledged operations around the crash (first trial of each config)",
                 fontsize=10)
    return _save(fig, path), notes
