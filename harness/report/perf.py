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

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from harness import faults
from harness.checkers.durability import Durability
from harness.checkers.speed import Speed
from harness.record import Restart, TrialRecord
from harness.report import fmt
from harness.report.plotting import (FAILED_COLOR, FAILED_RESTART_COLOR, OUTAGE_COLOR, UNKNOWN_COLOR, counts_text,
                                     draw_latency, plt, right_edge, save, shade_fault)
from harness.report.rundata import RunData, read_history
from harness.report.section import Gallery, GalleryItem
from harness.report.series import BUCKET_S, Panel, latency_series

CHARTS_DIR = "charts"
FIGSIZE = (7.0, 4.2)
THROUGHPUT_COLOR = "#3b6ea8"
LATENCY_COLOR = "#2f4f6f"


HTML_INTRO = ("Top: acknowledged operations per second per 100 ms; bottom: p50 and p99 latency per 100 ms (log "
              "scale); x: seconds since load start, the phase after the restart included. Click a chart for full size.")
MD_INTRO = ("Throughput (acknowledged ops/s per 100 ms) above latency (p50 and p99 per 100 ms, log scale), seconds "
            "since load start, the phase after the restart included:")


def chart_path(trial_id: str) -> str:
    return f"{CHARTS_DIR}/{trial_id}.png"


def caption(record: TrialRecord) -> str:
    """The trial's outcome in a few figures, all from its record."""
    durability, speed = record.get(Durability), record.get(Speed)
    parts = []
    if record[Restart].restart_failed:
        parts.append("restart failed")
    if durability is not None:
        parts.append(f"{fmt.count(durability.lost_sessions)} lost")
    if speed is not None and not fmt.is_missing(speed.throughput_ops_s):
        parts.append(f"{fmt.rate(speed.throughput_ops_s)} ops/s")
    if speed is not None and not fmt.is_missing(speed.downtime_s):
        parts.append(f"down {fmt.seconds_precise(speed.downtime_s)} s")
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

    def draw(self, panel: Panel, caption: str, history: pd.DataFrame, path: Path) -> None:
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
        self.title.set_text(f"{panel.trial_id}: {panel.config}, {faults.info(panel.fault).label}"
                            + (f" ({caption})" if caption else ""))
        save(self.fig, path, close=False)

    def close(self) -> None:
        plt.close(self.fig)


def _why_not_drawn(history: pd.DataFrame | None) -> str | None:
    if history is None:
        return "history missing or unreadable"
    if not (history["phase"] != "baseline").any():
        return "no load or after-fault operations in the history"
    return None


def trial_gallery(run: RunData, out_dir: Path) -> Gallery:
    """Draw `charts/<trial_id>.png` for every trial whose history can be read; one entry per trial."""
    directory = out_dir / CHARTS_DIR
    directory.mkdir(exist_ok=True)
    items: list[GalleryItem] = []
    canvas: _Canvas | None = None
    try:
        for record in run.records:
            panel, text = Panel.of(record), caption(record)
            path = out_dir / chart_path(panel.trial_id)
            alt = f"Throughput and latency of trial {panel.trial_id}"
            history = read_history(run.history_path(panel.trial_id))
            reason = _why_not_drawn(history)
            if reason:
                path.unlink(missing_ok=True)  # a chart left from an earlier build would no longer match the report
                items.append(GalleryItem(panel.trial_id, None, text, alt, reason))
                continue
            canvas = canvas or _Canvas()
            canvas.draw(panel, text, history, path)
            items.append(GalleryItem(panel.trial_id, chart_path(panel.trial_id), text, alt))
    finally:
        if canvas is not None:
            canvas.close()
    return Gallery(items, HTML_INTRO, MD_INTRO)
