"""Trials grouped into summary rows: medians, and min/max where the spread matters.

The eviction, expiry and pitfalls parts of the report summarise trials the same way the crash
matrix does (harness.report.sections.crash_matrix.summary), over their own keys and columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def grouped(trials: pd.DataFrame, keys: Sequence[str], medians: Sequence[str], spreads: Sequence[str] = (),
            firsts: Sequence[str] = ()) -> pd.DataFrame:
    """One row per distinct `keys`, in first-seen order: `trials`, the median of each `medians`
    column (with `<name>_min` and `<name>_max` for the `spreads`), the first value of `firsts`."""
    rows = []
    if trials.empty:
        return pd.DataFrame(columns=[*keys, "trials", *medians, *firsts])
    for key_values, group in trials.groupby(list(keys), sort=False, dropna=False):
        key_values = key_values if isinstance(key_values, tuple) else (key_values,)
        row: dict[str, object] = dict(zip(keys, key_values))
        row["trials"] = len(group)
        for column in medians:
            values = pd.to_numeric(group[column], errors="coerce")
            row[column] = values.median()
            if column in spreads:
                row[f"{column}_min"], row[f"{column}_max"] = values.min(), values.max()
        for column in firsts:
            present = group[column].dropna()
            row[column] = present.iloc[0] if len(present) else None
        rows.append(row)
    return pd.DataFrame(rows)
