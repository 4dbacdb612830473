"""The spike table: its columns, rows built from horizon columns, and the merge of candidates into
one window per overlapping group (shared by every kind of evidence in :mod:`forecasting.signals.spikes`)."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from forecasting.signals.matrix import DemandMatrix

SPIKE_COLUMNS: Final = ["sku", "channel", "start", "peak", "end", "uplift", "confidence", "source"]


def spike_rows(
    matrix: DemandMatrix, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, peaks: np.ndarray,
    uplift: np.ndarray, confidence: np.ndarray, source: str,
) -> pd.DataFrame:
    """Spike rows from horizon columns (column 0 is the day after the origin)."""
    first = matrix.end + pd.Timedelta(days=1)
    keys = matrix.keys.iloc[rows].reset_index(drop=True)
    return pd.DataFrame({
        "sku": keys["sku"], "channel": keys["channel"],
        "start": first + pd.to_timedelta(starts, unit="D"),
        "peak": first + pd.to_timedelta(peaks, unit="D"),
        "end": first + pd.to_timedelta(np.asarray(ends) - 1, unit="D"),
        "uplift": np.asarray(uplift, dtype=float), "confidence": np.clip(np.asarray(confidence, float), 0, 1),
        "source": source,
    })[SPIKE_COLUMNS]


def merge_spikes(parts: list[pd.DataFrame], gap_days: int) -> pd.DataFrame:
    """One window per overlapping (or nearly touching) group of candidates of the same series."""
    if not parts:
        return no_spikes()
    cand = pd.concat(parts, ignore_index=True).sort_values(["sku", "channel", "start"]).reset_index(drop=True)
    same_series = (cand["sku"].eq(cand["sku"].shift()) & cand["channel"].eq(cand["channel"].shift()))
    reach = cand.groupby(["sku", "channel"], observed=True)["end"].cummax().shift()
    new = ~same_series | (cand["start"] > reach + pd.Timedelta(days=gap_days))
    cand["group"] = new.cumsum()
    best = cand.loc[cand.groupby("group")["uplift"].idxmax(), ["group", "peak", "uplift"]].set_index("group")
    merged = cand.groupby("group").agg(
        sku=("sku", "first"), channel=("channel", "first"), start=("start", "min"), end=("end", "max"),
        confidence=("confidence", lambda c: 1.0 - float(np.prod(1.0 - c.to_numpy()))),
        source=("source", lambda s: "+".join(sorted(set(s)))),
    ).join(best)
    return merged[SPIKE_COLUMNS].reset_index(drop=True)


def no_spikes() -> pd.DataFrame:
    """The empty spike table, typed."""
    return pd.DataFrame({
        "sku": pd.Series(dtype=str), "channel": pd.Series(dtype=str),
        "start": pd.Series(dtype="datetime64[ns]"), "peak": pd.Series(dtype="datetime64[ns]"),
        "end": pd.Series(dtype="datetime64[ns]"), "uplift": pd.Series(dtype=float),
        "confidence": pd.Series(dtype=float), "source": pd.Series(dtype=str),
    })
