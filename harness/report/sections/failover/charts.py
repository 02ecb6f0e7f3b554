"""Per-trial perf charts of the failover scenario: `charts/<trial_id>.png`.

Top: acknowledged operations per second per 100 ms, one line per server that answered (by its
role at the start: the old primary and the replica that took over); bottom: p50/p99 latency of
every acknowledged operation, unknown and failed ones marked. The failover is marked where the
Sentinels say it happened: the fault, the promotion, `+switch-master`, the old primary's demotion;
the grey band runs from the fault until every Sentinel named the new primary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from harness import faults
from harness.report import fmt
from harness.report.plotting import OUTAGE_COLOR, colors, draw_latency, plt, save
from harness.report.rundata import RunData
from harness.report.section import Gallery, GalleryItem
from harness.report.series import BUCKET_S, latency_series

CHARTS_DIR = "charts"
HISTORY_COLUMNS = ["phase", "kind", "start_ns", "end_ns", "outcome", "server"]
MARKS = (("fault_ns", "fault", "-"), ("promotion_ns", "promoted", "--"), ("switch_ns", "+switch-master", ":"),
         ("demoted_ns", "old primary demoted", "-."))
HTML_INTRO = ("Top: acknowledged operations per second per 100 ms, one line per server that answered; bottom: p50 "
              "and p99 latency (log scale). Vertical lines: the fault, the promotion, +switch-master, the old "
              "primary's demotion; grey: fault until every Sentinel named the new primary. Click for full size.")
MD_INTRO = ("Per trial: acknowledged ops/s per server (top), latency (bottom), the failover's instants marked:")


def roles(server_ports: object) -> dict[int, str]:
    """'primary=41001 replica-1=41002' -> {41001: 'primary', 41002: 'replica-1'}."""
    found = {}
    for part in str(server_ports or "").split():
        role, _, port = part.partition("=")
        if port.isdigit():
            found[int(port)] = role
    return found


def legend_label(server: int, names: dict[int, str], winner: object) -> str:
    """A server by its role at the start, and what became of it."""
    if server == 0:
        return "application (server not recorded)"
    name = names.get(server, str(server))
    if name == "primary":
        return "primary (at the start)"
    return f"{name} (promoted)" if name == fmt.text(winner) else name


def per_server_rates(history: pd.DataFrame, origin_ns: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """server -> (bucket starts in s, acknowledged ops/s) for every server that acknowledged something."""
    ok = history[(history["outcome"] == "ok").to_numpy() & (history["phase"] != "baseline").to_numpy()]
    if ok.empty:
        return {}
    buckets = np.floor((ok["end_ns"].to_numpy() - origin_ns) / 1e9 / BUCKET_S).astype(int)
    edges = np.arange(buckets.min(), buckets.max() + 1)
    rates = {}
    for server in sorted(ok["server"].unique()):
        mine = buckets[(ok["server"] == server).to_numpy()]
        counts = np.bincount(mine - edges[0], minlength=len(edges))
        rates[int(server)] = (edges * BUCKET_S, counts / BUCKET_S)
    return rates


def _read(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_parquet(path, columns=HISTORY_COLUMNS) if path.is_file() else None
    except Exception:  # noqa: BLE001 - a bad file costs one chart, never the report
        return None


def _marks(ax, row: pd.Series, origin_ns: int, labels: bool) -> None:
    fault, settled = row.get("fault_ns"), row.get("settled_ns")
    if not fmt.is_missing(fault) and fault and not fmt.is_missing(settled) and settled:
        ax.axvspan((fault - origin_ns) / 1e9, (settled - origin_ns) / 1e9, color=OUTAGE_COLOR, zorder=0, linewidth=0)
    for column, label, style in MARKS:
        at = row.get(column)
        if fmt.is_missing(at) or not at:
            continue
        x = (float(at) - origin_ns) / 1e9
        ax.axvline(x, color="0.2", linestyle=style, linewidth=0.9)
        if labels:
            ax.text(x, 0.99, f" {label}", transform=ax.get_xaxis_transform(), fontsize=6, va="top", ha="left",
                    rotation=90)


def draw_trial(row: pd.Series, history: pd.DataFrame, path: Path) -> None:
    origin = int(row["load_start_ns"]) if not fmt.is_missing(row.get("load_start_ns")) and row.get("load_start_ns") \
        else int(history["start_ns"].min())
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 4.4),
                                      gridspec_kw={"height_ratios": [1.2, 1], "hspace": 0.08})
    fig.subplots_adjust(left=0.13, right=0.98, top=0.90, bottom=0.14)
    names = roles(row.get("server_ports"))
    rates = per_server_rates(history, origin)
    palette = colors([names.get(s, str(s)) for s in rates])
    for server, (starts, values) in rates.items():
        top.stairs(values, np.append(starts, starts[-1] + BUCKET_S), color=palette[names.get(server, str(server))],
                   linewidth=1.2, label=legend_label(server, names, row.get("winner")))
    top.set_ylim(bottom=0)
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.rate(v)))
    top.set_ylabel("acked ops/s\nper 100 ms", fontsize=8)
    if rates:
        top.legend(fontsize=7, loc="upper right", frameon=False)
    _marks(top, row, origin, labels=True)
    draw_latency(bottom, latency_series(history, origin), "#2f4f6f")
    _marks(bottom, row, origin, labels=False)
    bottom.set_ylabel("latency (ms, log)", fontsize=8)
    bottom.set_xlabel("seconds since load start", fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.25)
    fig.suptitle(f"{row['trial_id']}: {faults.info(row['fault']).label}", fontsize=9)
    save(fig, path)


def trial_gallery(run: RunData, trials: pd.DataFrame, out_dir: Path, caption) -> Gallery:
    """A chart per trial whose history can be read; `caption(row)` says its outcome in a few figures."""
    (out_dir / CHARTS_DIR).mkdir(exist_ok=True)
    items = []
    for _, row in trials.iterrows():
        trial = str(row["trial_id"])
        relative = f"{CHARTS_DIR}/{trial}.png"
        history = _read(run.history_path(trial))
        alt = f"Throughput per server and latency of trial {trial}"
        if history is None or history.empty:
            (out_dir / relative).unlink(missing_ok=True)
            items.append(GalleryItem(trial, None, caption(row), alt, "history missing or unreadable"))
            continue
        draw_trial(row, history, out_dir / relative)
        items.append(GalleryItem(trial, relative, caption(row), alt))
    return Gallery(items, HTML_INTRO, MD_INTRO)
