"""The recovery-curve report: recovery.csv in; recovery.png, recovery.md and recovery.html out.

Growth is stated from the numbers only: a least-squares line of recovery time against
sessions per config (its slope as milliseconds per 100k sessions, its intercept as the fixed
cost of a restart), and the slope of bytes on disk against sessions (bytes per session).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from harness.errors import HarnessError
from harness.record import is_missing
from harness.report import fmt
from harness.report.plotting import MARKERS, plt, save
from harness.report.render import render_document
from harness.report.section import Bullets, ConfigFile, Document, Figure, Paragraphs, Section, Table
from harness.results import read_environment

RECOVERY_CSV = "recovery.csv"
RECOVERY_PNG = "recovery.png"
RECOVERY_MD = "recovery.md"
RECOVERY_HTML = "recovery.html"
DASH = fmt.DASH


# -- the growth fit ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """y = intercept + slope * x, least squares."""

    slope: float
    intercept: float
    r2: float
    points: int

    @property
    def ms_per_100k(self) -> float:
        """For y in seconds and x in sessions: milliseconds added per 100,000 sessions."""
        return self.slope * 1e5 * 1e3


def fit_line(x, y) -> Fit:
    """Least-squares line through (x, y); slope nan when x has fewer than two distinct values."""
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    keep = ~(np.isnan(xs) | np.isnan(ys))
    xs, ys = xs[keep], ys[keep]
    if len(np.unique(xs)) < 2:
        return Fit(float("nan"), float(ys.mean()) if len(ys) else float("nan"), float("nan"), len(xs))
    x_mean, y_mean = xs.mean(), ys.mean()
    slope = float(((xs - x_mean) * (ys - y_mean)).sum() / ((xs - x_mean) ** 2).sum())
    intercept = float(y_mean - slope * x_mean)
    residual = float(((ys - (intercept + slope * xs)) ** 2).sum())
    total = float(((ys - y_mean) ** 2).sum())
    r2 = 1.0 - residual / total if total > 0 else 1.0
    return Fit(slope, intercept, r2, len(xs))


@dataclass(frozen=True)
class Growth:
    """One config's growth, from every measured row."""

    config: str
    recovery: Fit  # recovery_s against sessions
    server_load: Fit  # the server's own load time against sessions
    bytes_per_session: float  # slope of data_bytes against sessions
    sizes: list[int]
    recovery_median: dict[int, float]  # sessions -> median recovery_s
    recovery_range: dict[int, tuple[float, float, int]]  # sessions -> (min, max, restarts)
    data_bytes: dict[int, float]  # sessions -> median data_bytes
    fill_rate_s: float  # sessions per second of the fill at the largest size
    keys_ok: bool


def growth(frame: pd.DataFrame) -> list[Growth]:
    out = []
    for config, rows in _by_config(frame):
        points = rows.groupby("sessions")
        out.append(Growth(
            config=config,
            recovery=fit_line(rows["sessions"], rows["recovery_s"]),
            server_load=fit_line(rows["sessions"], rows["server_load_s"]),
            bytes_per_session=fit_line(rows["sessions"], rows["data_bytes"]).slope,
            sizes=sorted(int(s) for s in rows["sessions"].unique()),
            recovery_median={int(k): float(v) for k, v in points["recovery_s"].median().items()},
            recovery_range={int(k): (float(p["recovery_s"].min()), float(p["recovery_s"].max()), len(p))
                            for k, p in points},
            data_bytes={int(k): float(v) for k, v in points["data_bytes"].median().items()},
            fill_rate_s=float(points["fill_rate_s"].median().iloc[-1]) if "fill_rate_s" in rows else float("nan"),
            keys_ok=bool((rows["keys_after"] == rows["sessions"]).all()),
        ))
    return out


def _by_config(frame: pd.DataFrame):
    """Configs in the order they first appear (the run's order)."""
    for config in dict.fromkeys(frame["config"]):
        yield config, frame[frame["config"] == config]


# -- formatting -------------------------------------------------------------------------------

_missing = is_missing
_s = fmt.seconds


def _mb(value) -> str:
    """Megabytes (10^6 bytes): one decimal from 10 MB, three below, so small files are not 0.0."""
    if _missing(value):
        return DASH
    mb = float(value) / 1e6
    if mb == 0:
        return "0"
    return f"{mb:,.1f}" if mb >= 10 else f"{mb:,.3f}"


def _int(value) -> str:
    return DASH if _missing(value) else f"{float(value):,.0f}"


def _ms(value) -> str:
    return DASH if _missing(value) else f"{float(value):,.0f}"


def sentences(grown: list[Growth]) -> list[str]:
    """The growth stated plainly, one sentence per config, then a comparison at the largest size."""
    out = []
    for g in grown:
        first, last = g.sizes[0], g.sizes[-1]
        if len(g.sizes) < 2:
            out.append(f"{g.config}: one size only ({first:,} sessions, recovery {_s(g.recovery_median[first])} s); "
                       f"a growth rate needs two sizes or more.")
            continue
        text = (f"{g.config}: recovery grows by {_ms(g.recovery.ms_per_100k)} ms per 100k sessions "
                f"(least-squares line over {g.recovery.points} restarts, R² {g.recovery.r2:.3f}, intercept "
                f"{g.recovery.intercept * 1000:,.0f} ms), from {_s(g.recovery_median[first])} s at {first:,} to "
                f"{_s(g.recovery_median[last])} s at {last:,} sessions")
        if not _missing(g.server_load.slope):
            text += f"; the server's own load time grows by {_ms(g.server_load.ms_per_100k)} ms per 100k"
        text += f". Its files take {_int(g.bytes_per_session)} bytes per session"
        text += (f" ({_mb(g.data_bytes[last])} MB at {last:,}); the fill of {last:,} ran at {_int(g.fill_rate_s)} "
                 f"sessions/s."
                 if not _missing(g.fill_rate_s) else f" ({_mb(g.data_bytes[last])} MB at {last:,}).")
        if not g.keys_ok:
            text += " NOT every session came back after a restart: see keys_after in the table."
        out.append(text)
    common = set.intersection(*(set(g.sizes) for g in grown)) if grown else set()
    if len(grown) > 1 and common:
        size = max(common)
        fastest = min(grown, key=lambda g: g.recovery_median[size])
        for g in grown:
            if g is fastest or fastest.recovery_median[size] <= 0:
                continue
            ratio = g.recovery_median[size] / fastest.recovery_median[size]
            text = (f"At {size:,} sessions {g.config} took {ratio:.1f}× as long to recover as {fastest.config} "
                    f"({_s(g.recovery_median[size])} s against {_s(fastest.recovery_median[size])} s, medians)")
            low, high, runs = g.recovery_range[size]
            f_low, f_high, f_runs = fastest.recovery_range[size]
            if runs > 1 and f_runs > 1 and low <= f_high:
                text += (f"; their ranges over repeats overlap ({_s(low)}–{_s(high)} s and "
                         f"{_s(f_low)}–{_s(f_high)} s), so this difference is within the noise")
            out.append(text + ".")
    return out


TABLE_HEADERS = ["config", "sessions", "restarts", "recovery s (min–max)", "server load s", "on disk MB", "rdb MB",
                 "aof base MB", "aof incr MB", "bytes/session", "fill s", "fill sessions/s", "persist s",
                 "keys after"]
TABLE_NUMERIC = [False, True, True, True, True, True, True, True, True, True, True, True, True, True]


def point_table(frame: pd.DataFrame) -> list[list[str]]:
    """One row per (config, size): medians over repeats."""
    rows = []
    for config, by_config in _by_config(frame):
        for sessions, point in by_config.groupby("sessions", sort=True):
            recovery = point["recovery_s"]
            spread = f" ({_s(recovery.min())}–{_s(recovery.max())})" if len(point) > 1 else ""
            base = point["aof_base_bytes"].median()
            fmt_name = ""
            if "aof_base_format" in point:
                fmt_name = str(point["aof_base_format"].astype(object).fillna("").iloc[0])
            keys = point["keys_after"]
            keys_text = f"{int(keys.min()):,}" + ("" if (keys == sessions).all() else f" (expected {sessions:,})")
            rows.append([
                config, f"{int(sessions):,}", str(len(point)), _s(recovery.median()) + spread,
                _s(point["server_load_s"].median()), _mb(point["data_bytes"].median()),
                _mb(point["rdb_bytes"].median()),
                _mb(base) + (f" ({fmt_name})" if fmt_name and fmt_name != "nan" and base > 0 else ""),
                _mb(point["aof_incr_bytes"].median()), _int(point["data_bytes"].median() / sessions),
                f"{point['fill_s'].iloc[0]:,.2f}", _int(point["fill_rate_s"].iloc[0]),
                f"{point['persist_s'].iloc[0]:,.2f}", keys_text,
            ])
    return rows


# -- the chart --------------------------------------------------------------------------------

def _sessions_label(value: float, _pos=None) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def recovery_chart(frame: pd.DataFrame, path: Path) -> Path:
    """Two log-log panels: recovery time against sessions, and data on disk against sessions."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for number, (config, rows) in enumerate(_by_config(frame)):
        color, marker = cycle[number % len(cycle)], MARKERS[number % len(MARKERS)]
        points = rows.groupby("sessions", sort=True)
        sessions = np.array(list(points.groups.keys()), dtype=float)
        left.plot(sessions, points["recovery_s"].median().to_numpy(), color=color, marker=marker, label=config)
        if len(rows) > len(sessions):  # repeats: every restart as a faint dot
            left.scatter(rows["sessions"], rows["recovery_s"], color=color, alpha=0.35, s=12, zorder=3)
        load = points["server_load_s"].median().to_numpy(dtype=float)
        if np.isfinite(load).any() and (load[np.isfinite(load)] > 0).any():
            shown = np.isfinite(load) & (load > 0)  # a 0.000 s log line cannot sit on a log axis
            left.plot(sessions[shown], load[shown], color=color, linestyle="--", linewidth=1, alpha=0.8)
        right.plot(sessions, points["data_bytes"].median().to_numpy() / 1e6, color=color, marker=marker,
                   label=config)
    left.plot([], [], color="grey", label="restart call to ready")
    left.plot([], [], color="grey", linestyle="--", linewidth=1, label="server's own load time (log)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sessions in the data set")
        ax.xaxis.set_major_formatter(FuncFormatter(_sessions_label))
        ax.grid(True, which="major", alpha=0.4)
        ax.grid(True, which="minor", alpha=0.15)
    left.set_ylabel("seconds")
    left.set_title("Recovery after kill -9")
    right.set_ylabel("MB on disk")
    right.set_title("Persistence files after BGSAVE / BGREWRITEAOF")
    left.legend(fontsize=8, loc="upper left")
    right.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return save(fig, path)


# -- the report -------------------------------------------------------------------------------

def method(env: dict) -> list[str]:
    connections, batch = env.get("fill_connections"), env.get("fill_batch")
    how = f" ({connections} connections, {int(batch):,} requests per round trip)" if connections and batch else ""
    value = int(env.get("value_bytes") or 300)
    return [
        "Start a fresh server on an empty data directory with the config.",
        f"Fill it with N sessions: `SET session:<id> <~{value}-byte JSON> EX {env.get('ttl_s', 1800)}`, pipelined"
        f"{how}; every write must be acknowledged. The JSON's padding is random base64 characters, so the RDB's "
        "LZF compression cannot shrink it as it would a run of one character.",
    ] + METHOD_REST


METHOD_REST = [
    "Make the data durable as a long-running server would have it: a finished BGSAVE with save points "
    "and a finished BGREWRITEAOF with AOF; then record the files (dump.rdb, appendonlydir/ base and incr).",
    "SIGKILL the server, restart it on the same data and time the restart call to ready "
    "(PING answers and INFO persistence shows loading:0); read the server's own load time from its log.",
    "Check DBSIZE == N after the restart. Repeats kill and restart the same server again on the same files.",
]

CAVEATS = [
    "The files were just written, so they are in the page cache: these are warm-cache recoveries. After a power "
    "loss or on a cold machine, reading the files from the disk adds to every figure.",
    "Recovery time includes starting the server (process or container) and the harness's 5 ms readiness poll; "
    "the server's own load time, from its log, does not.",
    "The growth line is fitted over every restart; with sizes a decade apart it is dominated by the largest size, "
    "which is where it matters.",
    "One shared 2-core machine: the figures are for comparing configs within a run.",
]


def _environment_items(env: dict) -> list[tuple[str, str]]:
    keys = [("server", "server"), ("server_version", "version"), ("backend", "backend"), ("image_used", "image"),
            ("image_note", "image note"), ("binary", "binary"), ("kernel", "kernel"),
            ("filesystem", "filesystem"), ("cpu_count", "CPUs"), ("sizes", "sizes"), ("repeats", "repeats"),
            ("wall_s", "wall time s"), ("harness_rss_at_start_mb", "harness RSS at start MB"),
            ("harness_peak_rss_mb", "harness peak RSS MB (whole run, before the report)"),
            ("command_line", "command line")]
    return [(label, str(env[key])) for key, label in keys if env.get(key) not in (None, "")]


def _memory_sentence(frame: pd.DataFrame, env: dict) -> str:
    largest = frame[frame["sessions"] == frame["sessions"].max()]
    peak = float(largest["harness_peak_rss_mb"].max())
    server = float(largest["server_used_memory_mb"].max()) if "server_used_memory_mb" in largest else float("nan")
    text = (f"The harness's own peak RSS (ru_maxrss of its process) was {peak:,.0f} MB after the "
            f"{int(largest['sessions'].iloc[0]):,}-session points")
    if env.get("harness_rss_at_start_mb"):
        text += f" ({float(env['harness_rss_at_start_mb']):,.0f} MB at the start of the run)"
    if not _missing(server):
        text += f"; the server held {server:,.0f} MB (used_memory) at that size"
    return text + ". Values are generated a batch at a time: the harness never holds the data set."


def read_recovery(run_dir: Path) -> pd.DataFrame:
    path = Path(run_dir) / RECOVERY_CSV
    if not path.exists():
        raise HarnessError(f"{run_dir} holds no {RECOVERY_CSV}: not a recovery-curve results folder")
    return pd.read_csv(path)


CHART_NOTE = ("Left: restart call to ready (solid, markers at measured points) and the server's own load time from "
              "its log (dashed). Right: the persistence files on disk (an RDB file and an AOF base with the RDB "
              "preamble hold the same encoding, so their lines can lie on top of each other). Both axes logarithmic.")


def recovery_document(frame: pd.DataFrame, env: dict, run_dir: Path, png: str) -> Document:
    """The recovery report as the shared blocks: growth, points, chart, method, caveats."""
    server = str(frame["server"].iloc[0]) if "server" in frame and len(frame) else ""
    backend = str(frame["backend"].iloc[0]) if "backend" in frame and len(frame) else ""
    configs = []
    for name in dict.fromkeys(frame["config"]):
        conf = run_dir / "configs" / f"{name}.conf"
        configs.append(ConfigFile(str(name), None, conf.read_text() if conf.exists() else None))
    sections = [
        Section("Growth", [Bullets(sentences(growth(frame))), Paragraphs([_memory_sentence(frame, env)])],
                anchor="growth"),
        Section("Measured points", [
            Paragraphs(["Medians over restarts of each point; bytes/session is the files' total over the sessions."],
                       style="note"),
            Table(TABLE_HEADERS, point_table(frame), TABLE_NUMERIC)], anchor="points"),
        Section("Chart", [Figure(png, "Recovery time and data on disk against sessions, log-log, one line per config",
                                 CHART_NOTE)], anchor="chart"),
        Section("What was measured", [Bullets(method(env), ordered=True)], anchor="method"),
        Section("Caveats", [Bullets(CAVEATS)], anchor="caveats"),
    ]
    where = ", ".join(filter(None, [server, f"{backend} backend" if backend else ""]))
    return Document("Recovery cost as data grows", str(env.get("run_id", run_dir.name)),
                    f"Restart time after kill -9 against data size, per persistence config ({where}). Every number "
                    "was measured in this run.", sections, _environment_items(env), configs)


def build_recovery_report(run_dir: Path) -> dict[str, Path]:
    """Write recovery.png, recovery.md and recovery.html from recovery.csv (rebuildable any time)."""
    run_dir = Path(run_dir)
    frame = read_recovery(run_dir)
    env = read_environment(run_dir)
    png = recovery_chart(frame, run_dir / RECOVERY_PNG)
    paths = render_document(recovery_document(frame, env, run_dir, png.name), run_dir, RECOVERY_HTML, RECOVERY_MD)
    return {RECOVERY_PNG: png, RECOVERY_MD: paths[RECOVERY_MD], RECOVERY_HTML: paths[RECOVERY_HTML]}
