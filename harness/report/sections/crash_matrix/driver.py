"""Driver against server: was the measured throughput the server's, or the load generator's?

Each trial measured, before its load, the server's ceiling with redis-benchmark at the driver's
shape (same connections, same requests in flight per connection, the session mix) and its
saturation with a deep pipeline (harness.ceiling). A driver that reached much less than the
ceiling was the bottleneck itself; a ceiling far below the saturation says the load's shape,
not the server, bounded what any client of that shape could get. Pure: summary in, table and
sentences out.
"""

from __future__ import annotations

import pandas as pd

from harness.report import fmt
from harness.report.section import Table
from harness.report.tables import Column, formatted, several, spread, table_of

# Below this median driver/ceiling ratio the load generator, not the server, set the pace.
# (Above 1 is possible and not an error: the driver pipelines, redis-benchmark does not; see Method.)
DRIVER_LIMITED_BELOW = 0.8


def is_driver_limited(ratio: object) -> bool:
    """NaN (no ceiling measured) is never flagged: not measured is not limited."""
    return not fmt.is_missing(ratio) and float(ratio) < DRIVER_LIMITED_BELOW  # type: ignore[arg-type]


def has_ceiling(summary: pd.DataFrame) -> bool:
    return not summary.empty and bool(summary["driver_ceiling_ratio"].notna().any())


def _limit(row: pd.Series) -> str:
    ratio = row.get("driver_ceiling_ratio")
    if fmt.is_missing(ratio):
        return fmt.DASH
    return "driver: understates the server" if is_driver_limited(ratio) else "server"


def _pair(a: str, b: str) -> Column:
    """'driver / ceiling' in one cell, so latencies read side by side."""
    return Column(f"{a.split('_')[0]} driver / ceiling (ms)",
                  lambda r: f"{fmt.ms(r.get(a))} / {fmt.ms(r.get(b))}"
                  if not (fmt.is_missing(r.get(a)) and fmt.is_missing(r.get(b))) else fmt.DASH)


DRIVER_COLUMNS = [
    Column("Server", formatted("server", fmt.plain), numeric=False, shown=several("server")),
    Column("Config", formatted("config", fmt.plain), numeric=False),
    Column("Fault", formatted("fault", fmt.plain), numeric=False),
    Column("Throughput (ops/s)", spread("throughput_ops_s", fmt.rate)),
    Column("Ceiling (ops/s)", spread("ceiling_ops_s", fmt.rate)),
    Column("Driver/ceiling", spread("driver_ceiling_ratio", fmt.ratio)),
    Column("Saturation (ops/s)", spread("saturation_ops_s", fmt.rate)),
    Column("Ceiling/saturation", spread("ceiling_saturation_ratio", fmt.ratio)),
    _pair("p50_ms", "ceiling_p50_ms"),
    _pair("p99_ms", "ceiling_p99_ms"),
    Column("Limit", _limit, numeric=False),
]


def driver_table(summary: pd.DataFrame) -> Table:
    # The saturation columns only where some trial measured one (older runs did not).
    shown = [c for c in DRIVER_COLUMNS if "saturation" not in c.header.lower() or has_saturation(summary)]
    return table_of(shown, summary, hide_empty=False)


def has_saturation(summary: pd.DataFrame) -> bool:
    return not summary.empty and bool(summary["saturation_ops_s"].notna().any())


def _shape(summary: pd.DataFrame) -> str | None:
    """'8 connections, 6 requests in flight on each' from the summary (None: older results)."""
    rows = summary[summary["ceiling_connections"].fillna(0) > 0]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return (f"{fmt.count(row['ceiling_connections'])} connections with {fmt.count(row['ceiling_pipeline'])} requests "
            f"in flight on each")


def saturation_notes(summary: pd.DataFrame) -> list[str]:
    """How close the driver's shape came to the server's own limit, over the whole run: the median
    of the rows' ceiling/saturation ratios, and their range."""
    ratios = summary["ceiling_saturation_ratio"].dropna()
    if not has_saturation(summary) or ratios.empty:
        return []
    low, high, middle = fmt.ratio(ratios.min()), fmt.ratio(ratios.max()), float(ratios.median())
    deep = fmt.count(summary["saturation_pipeline"].dropna().max())
    span = "" if low == high else f" (rows {low}{fmt.DASH}{high})"
    shape = _shape(summary) or "the driver's shape"
    verdict = ("the server had capacity that clients of this shape did not reach, so throughput here is the "
               "shape's figure, not the server's limit; a client that pipelines deeper gets more from it."
               if middle < DRIVER_LIMITED_BELOW else "at this shape the load came close to the server's own limit.")
    return [f"At the driver's shape ({shape}), redis-benchmark reached a median {fmt.ratio(middle)}{span} of what "
            f"the same server did with {deep} requests in flight per connection (ceiling/saturation): {verdict}"]


def _flagged(summary: pd.DataFrame) -> list[str]:
    """'`config` on `server` under `fault` (ratio: throughput against ceiling)' for every row the driver held back."""
    several_servers, several_faults = summary["server"].nunique() > 1, summary["fault"].nunique() > 1
    flagged = []
    for _, row in summary.iterrows():
        if not is_driver_limited(row.get("driver_ceiling_ratio")):
            continue
        where = (f" on `{row['server']}`" if several_servers else "") + \
            (f" under `{row['fault']}`" if several_faults else "")
        flagged.append(f"`{row['config']}`{where} ({fmt.ratio(row['driver_ceiling_ratio'])}: "
                       f"{fmt.rate(row.get('throughput_ops_s'))} against {fmt.rate(row.get('ceiling_ops_s'))} ops/s)")
    return flagged


def driver_notes(summary: pd.DataFrame) -> list[str]:
    """One sentence naming every summary row (config, fault, and server when there are several) the
    driver held back, or saying none was, and one naming any without a ceiling."""
    if not has_ceiling(summary):
        return ["No ceiling was measured in this run (no `redis-benchmark` was available, or the results predate "
                "it), so whether the load generator or the server set the throughput is not known: read the "
                "throughput figures as lower bounds of what the server can do."]
    flagged = _flagged(summary)
    notes = []
    if flagged:
        one = len(flagged) == 1
        notes.append(
            f"**Driver-limited** (median driver/ceiling ratio below {fmt.ratio(DRIVER_LIMITED_BELOW)}; median "
            f"throughput against median ceiling): {'; '.join(flagged)}. The load generator, not the server, was the "
            f"limit, so {'its throughput figure understates' if one else 'these throughput figures understate'} "
            f"the server.")
    unmeasured = summary[summary["driver_ceiling_ratio"].isna()]
    if not flagged:
        notes.append(f"Every config with a measured ceiling reached at least {fmt.ratio(DRIVER_LIMITED_BELOW)} of "
                     "it (median driver/ceiling ratio), so the load generator did not hold the throughput figures "
                     "far below what the server could do.")
    notes += saturation_notes(summary)
    if len(unmeasured):
        names = ", ".join(f"`{c}`" for c in dict.fromkeys(unmeasured["config"].astype(str)))
        notes.append(f"No ceiling was measured for {names}: whether the driver or the server set its throughput "
                     f"is not known.")
    return notes
