"""The replay's inputs as arrays: true demand per series and day, per-SKU money figures.

The recorded demand per series and day is the Dataset's panel (:meth:`Dataset.panel`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.schema import SERIES_KEY


def true_demand(data: Dataset, keys: pd.DataFrame, y: np.ndarray, first: np.ndarray,
                dates: pd.DatetimeIndex, days: int, demand: pd.DataFrame | None) -> np.ndarray:
    """Demand replayed per series and day of the last ``days``: ``demand`` if given, else the sales."""
    sim = y[:, -days:]
    launched = (np.arange(len(dates))[None, -days:] >= first[:, None])
    if demand is not None:
        truth = keys.merge(demand, on=list(SERIES_KEY), how="left")
        pivot = truth.pivot_table(index=list(SERIES_KEY), columns="date", values="demand", aggfunc="sum")
        pivot = pivot.reindex(pd.MultiIndex.from_frame(keys)).reindex(columns=dates[-days:])
        return np.where(launched, np.nan_to_num(pivot.to_numpy(dtype=float)), 0.0)
    # Stockout days recorded no demand; replay the series' mean over the replayed year there instead.
    with np.errstate(all="ignore"):
        level = np.nan_to_num(np.nanmean(sim, axis=1), nan=0.0)
    return np.where(launched, np.where(np.isnan(sim), level[:, None], sim), 0.0)


def sku_values(data: Dataset, skus: pd.Series, column: str, default: float) -> np.ndarray:
    """Column of the ``skus`` table per SKU of ``skus`` (``default`` where missing)."""
    if data.skus is None or column not in data.skus:
        return np.full(len(skus), default)
    mapping = data.skus.set_index("sku")[column]
    return skus.map(mapping).astype(float).fillna(default).to_numpy()


__all__ = ["sku_values", "true_demand"]
