"""Per-trial performance charts, Jepsen-style: `charts/<trial_id>.png` for every trial.

Two stacked panels on one time axis (seconds since load start): acknowledged operations per
second per 100 ms, and p50/p99 latency per 100 ms (log scale), with the fault window shaded,
unknown and failed operations marked, and the `after` phase included.

A run has tens of trials, so drawing must stay cheap (42 trials of ~160k operations each drew
in about 5 s on the 2-core development machine): one figure is made once and reused (only the
trial's artists are removed between trials, so ticks and legends are not rebuilt; a fixed
layout instead of a solver on every save), and the marks of unknown operations are thinned
out (series.MAX_MARKS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from harness.report import fmt
from harness.report.faults import fault_label
from harness.report.plotting import (FAILED_COLOR, FAILED_RESTART_COLOR, OUTAGE_COLOR, UNKNOWN_COLOR, counts_text,
                                     draw_latency, plt, right_edge, save, shade_fault)
from harness.report.rundata import RunData, read_history
from harness.report.series import BUCKET_S, Panel, all_panels, latency_series

CHARTS_DIR = "charts"
FIGSIZE = (7.0, 4.2)
THROUGHPUT_COLOR = "#3b6ea8"
LATENCY_COLOR = "#2f4f6f"


@dataclass(frozen=True)
class TrialChart:
    """One gallery entry: the chart's path relative to the report (None: not drawn) and a caption."""

    trial_id: str
    config: str
    fault: str
    path: str | None
    caption: str
    note: str | None = None  # why there is no chart


def chart_path(trial_id: str) -> str:
    return f"{CHARTS_DIR}/{trial_id}.png"


def _caption(row: pd.Series) -> str:
    """The trial's outcome in a few figures, all from trials.csv."""
    parts = []
    if fmt.truthy(row.get("restart_failed")):
        parts.append("restart failed")
    if not fmt.is_missing(row.get("lost_sessions")):
        parts.append(f"{fmt.count(row.get('lost_sessions'))} lost")
    if not fmt.is_missing(row.get("throughput_ops_s")):
        parts.append(f"{fmt.rate(row.get('throughput_ops_s'))} ops/s")
    if not fmt.is_missing(row.get("downtime_s")):
        parts.append(f"down {fmt.seconds_precise(row.get('downtime_s'))} s")
    return ", ".join(parts)


class _Canvas:
    """The one reused figure: two axes sharing x, and two fixed legends (one shown per trial)."""

    def __init__(self) -> None:
        self.fig, (self.top, self.bottom) = plt.subplots(
            2, 1, sharex=True, figsize=FIGSIZE, gridspec_kw={"height_ratios": [1, 1.3], "hspace": 0.08})
        self.fig.subplots_adjust(left=0.13, right=0.98, top=0.90, bottom=0.2)  # room for "150,000"
        handles = [Line2D([], [], color=LATENCY_COLOR, linewidth=1.0, label="p50"),
                   Line2D([], [], color=LATENCY_COLOR, linewidth=1.0, alpha=0.45, label="p99"),
                   Line2D([], [], color=UNKNOWN_COLOR, marker="x", linestyle="", label="unknown outcome"),
                   Line2D([], [], color=FAILED_COLOR, marker="|", linestyle="", label="failed")]
        # Two fixed legends, one shown per trial: the fault window is either an outage that ended or
        # a restart that failed, and the legend names only what the chart shows.
        self.legends = {
            failed: self.fig.legend(handles=handles + [Patch(color=FAILED_RESTART_COLOR if failed else OUTAGE_COLOR,
                                                             label="restart failed" if failed else "fault to ready")],
                                    loc="lower center", ncol=len(handles) + 1, fontsize=7, frameon=False)
            for failed in (False, True)}
        self.title = self.fig.suptitle("", fontsize=9)
        for ax in (self.top, self.bottom):
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.25)

    @staticmethod
    def _reset(ax) -> None:
        """Remove the last trial's artists but keep the axes: cla() would rebuild every tick
        object, which was a third of the drawing time."""
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
            artist.remove()
        ax.ignore_existing_data_limits = True  # the next trial's artists set the limits afresh
        ax.set_autoscale_on(True)

    def draw(self, panel: Panel, row: pd.Series, history: pd.DataFrame, path: Path) -> None:
        top, bottom = self.top, self.bottom
        self._reset(top)
        self._reset(bottom)
        series = latency_series(history, panel.load_start_ns)
        right = right_edge(series, panel)
        if len(series.bucket_s):
            edges = list(series.bucket_s) + [float(series.bucket_s[-1]) + BUCKET_S]
            top.stairs(series.ops_s, edges, fill=True, color=THROUGHPUT_COLOR, alpha=0.8, linewidth=0)
        top.set_ylim(bottom=0)
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.rate(v)))
        top.set_ylabel("acked ops/s\nper 100 ms", fontsize=8)
        shade_fault(top, panel, right)
        draw_latency(bottom, series, LATENCY_COLOR, counts=False)
        shade_fault(bottom, panel, right, labels=False)
        bottom.set_ylabel("latency (ms, log)", fontsize=8)
        bottom.set_xlabel(f"seconds since load start   ({counts_text(series)})", fontsize=8)
        bottom.set_xlim(0 if len(series.bucket_s) == 0 else min(0.0, float(series.bucket_s[0])), right)
        for failed, legend in self.legends.items():
            legend.set_visible(failed == panel.restart_failed)
        caption = _caption(row)
        self.title.set_text(f"{panel.trial_id}: {panel.config}, {fault_label(panel.fault)}"
                            + (f" ({caption})" if caption else ""))
        save(self.fig, path, close=False)

    def close(self) -> None:
        plt.close(self.fig)


def trial_charts(run: RunData, out_dir: Path) -> list[TrialChart]:
    """Draw `charts/<trial_id>.png` for every trial whose history can be read; one entry per trial."""
    directory = out_dir / CHARTS_DIR
    directory.mkdir(exist_ok=True)
    entries: list[TrialChart] = []
    canvas: _Canvas | None = None
    try:
        for panel, (_, row) in zip(all_panels(run.trials), run.trials.iterrows()):
            path = out_dir / chart_path(panel.trial_id)
            history = read_history(run.history_path(panel.trial_id))
            reason = None
            if history is None:
                reason = "history missing or unreadable"
            elif not (history["phase"] != "baseline").any():
                reason = "no load or after-fault operations in the history"
            if reason:
                path.unlink(missing_ok=True)  # a chart left from an earlier build would no longer match the report
                entries.append(TrialChart(panel.trial_id, panel.config, panel.fault, None, _caption(row), reason))
                continue
            canvas = canvas or _Canvas()
            canvas.draw(panel, row, history, path)
            entries.append(TrialChart(panel.trial_id, panel.config, panel.fault, chart_path(panel.trial_id),
                                      _caption(row)))
    finally:
        if canvas is not None:
            canvas.close()
    return entries
