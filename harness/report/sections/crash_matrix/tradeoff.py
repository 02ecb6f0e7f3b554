"""The trade-off chart: throughput against acknowledged sessions lost, per summary row.

One panel per server (one panel when the run measured one server), all on the same vertical
scale so servers compare at a glance. The figure is made through the object API and closed
after saving, so building many reports in one process does not accumulate figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from harness import faults
from harness.report import fmt
from harness.report.plotting import MARKERS, colors, plt, save

TITLE = "Measured trade-off: speed against sessions lost, per persistence config"
XLABEL = "Throughput of acknowledged operations before the fault (ops/s, measured; median, bar = min–max)"
YLABEL = "Acknowledged sessions lost (measured; median, bar = min–max)"
Label = tuple[float, float, str]  # data x, data y, text


@dataclass(frozen=True)
class _Style:
    """Colour and marker per point. With one fault, colour tells configs apart; with several,
    colour and marker tell the faults apart and a dotted line joins each config's points."""

    faults: list[str]
    palette: dict[str, str]
    markers: dict[str, str]

    @property
    def several_faults(self) -> bool:
        return len(self.faults) > 1

    def color(self, config: str, fault: str) -> str:
        return self.palette[fault if self.several_faults else config]

    @classmethod
    def of(cls, summary: pd.DataFrame) -> _Style:
        fault_names = faults.order(summary["fault"])
        configs = [str(c) for c in dict.fromkeys(summary["config"])]
        palette = colors(fault_names) if len(fault_names) > 1 else colors(configs)
        return cls(fault_names, palette, {f: MARKERS[i % len(MARKERS)] for i, f in enumerate(fault_names)})


def _error(median: float, low: float, high: float) -> tuple[float, float]:
    """Asymmetric error-bar lengths; zero where the spread is unknown."""
    if any(fmt.is_missing(v) for v in (median, low, high)):
        return 0.0, 0.0
    return max(median - low, 0.0), max(high - median, 0.0)


def _restart_note(row: pd.Series) -> str:
    failed = row.get("restart_failed")
    if fmt.is_missing(failed) or float(failed) <= 0:
        return ""
    return f", restart failed {fmt.of(failed, row.get('trials'))}"


def _draw_points(ax, rows: pd.DataFrame, style: _Style) -> list[Label]:
    """A marker with min–max bars per row that has both figures; returns the labels to place."""
    labels: list[Label] = []
    points: dict[str, list[tuple[float, float]]] = {}
    for _, row in rows.iterrows():
        x, y = row.get("throughput_ops_s"), row.get("lost_sessions")
        if fmt.is_missing(x) or fmt.is_missing(y):
            continue  # nothing to place; the table still shows the row
        config, fault = str(row["config"]), str(row["fault"])
        xerr = _error(x, row.get("throughput_ops_s_min"), row.get("throughput_ops_s_max"))
        yerr = _error(y, row.get("lost_sessions_min"), row.get("lost_sessions_max"))
        color, restart = style.color(config, fault), _restart_note(row)
        # A hollow marker: this row's loss includes trials where nothing came back at all.
        ax.errorbar([x], [y], xerr=[[xerr[0]], [xerr[1]]], yerr=[[yerr[0]], [yerr[1]]],
                    fmt=style.markers[fault], color=color, markersize=8, capsize=4, elinewidth=1.2,
                    markerfacecolor="white" if restart else color, markeredgewidth=1.6 if restart else 1.0)
        labels.append((float(x), float(y), config + restart))
        points.setdefault(config, []).append((float(x), float(y)))
    if style.several_faults:  # where configs that behave alike under one fault part under another
        for config_points in (p for p in points.values() if len(p) > 1):
            xs, ys = zip(*config_points)
            ax.plot(xs, ys, color="0.6", linewidth=0.8, linestyle=":", zorder=0)
    return labels


def _axes(ax, worst: float | None) -> None:
    """Scales, limits and axis labels; `worst`: the largest loss in any panel (None: nothing plotted)."""
    # symlog: linear around 0 (a config that lost nothing sits on the axis, visible), logarithmic
    # above, so 3 lost sessions and 5,000 lost sessions are both readable on one chart.
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=-1.2)  # the linear band below 0 leaves room for labels of zero-loss configs
    if worst is not None:
        ax.set_ylim(top=worst * 6 + 2)  # room for the labels above the worst case
    bottom, top = ax.get_ylim()
    ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= top])  # no ticks in the label band below 0
    ax.set_ylim(bottom, top)
    # Negative counts are only the label band below 0: no tick text there.
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.count(round(v)) if v >= 0 else ""))
    if worst is not None:
        ax.margins(x=0.08)
        left, right = ax.get_xlim()
        ax.set_xlim(left, right + 0.15 * (right - left))  # labels are written to the right of points
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.rate(v)))
    ax.grid(True, which="major", alpha=0.3)


def _place_labels(ax, labels: list[Label]) -> None:
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


def _legend(ax, summary: pd.DataFrame, style: _Style) -> None:
    handles = [Line2D([], [], color=style.palette[f], marker=style.markers[f], linestyle="", label=f)
               for f in style.faults]
    if any(_restart_note(row) for _, row in summary.iterrows()):
        handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="",
                              label="restart failed in some trials"))
    ax.legend(handles=handles, title="fault", loc="best")


def tradeoff_chart(summary: pd.DataFrame, path: Path) -> Path:
    """Throughput against lost sessions per summary row (server, config, fault), a panel per server."""
    servers = [str(s) for s in dict.fromkeys(summary["server"])] or [""]
    style = _Style.of(summary)
    fig, axes = plt.subplots(1, len(servers), figsize=(8.0 if len(servers) == 1 else 6.4 * len(servers), 5.2),
                             squeeze=False, layout="constrained")
    worst = max([float(v) for v in summary["lost_sessions_max"].fillna(0)] + [1.0])  # one scale for all panels
    title = TITLE + (" and fault" if style.several_faults else "")
    panels = []
    for ax, server in zip(axes[0], servers):
        labels = _draw_points(ax, summary[summary["server"] == server], style)
        _axes(ax, worst if labels else None)
        if len(servers) > 1:
            ax.set_title(server, fontsize=10)
        else:
            ax.set_title(title)
        if not labels:
            ax.text(0.5, 0.5, "no trial has both a throughput and a lost-session count", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
        panels.append((ax, labels))
    if len(servers) > 1:  # one title and one pair of axis labels for the row of panels
        fig.suptitle(title)
        fig.supxlabel(XLABEL, fontsize=10)
        fig.supylabel(YLABEL, fontsize=10)
    else:
        axes[0][0].set_xlabel(XLABEL)
        axes[0][0].set_ylabel(YLABEL)
    for ax, labels in panels:  # after every panel is set up: the layout, and so the pixels, are final
        _place_labels(ax, labels)
    if style.several_faults:
        _legend(axes[0][-1], summary, style)
    return save(fig, path)
