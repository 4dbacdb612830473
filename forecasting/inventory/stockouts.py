"""Realized stockouts and sell-through from the sales table's operating data.

A stockout day is a sales row with ``in_stock = 0``; a stockout **event** is a run of consecutive
stockout days of one SKU-channel (a missing day ends a run: the canonical tables record a day without
a row as in stock with zero sales). Net units are ``units - returns`` when the ``returns`` column
exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.keys import key_text

KEY = ["sku", "channel"]


def stockout_events(sales: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Stockout events and days per SKU-channel whose stockout days fall in ``[start, end]``.

    An event that began before ``start`` and continues into the window counts once, in the window.

    Args:
        sales: ``sku, channel, date`` and optionally ``in_stock`` (no column: no stockouts known).
        start: First day of the window.
        end: Last day of the window.

    Returns:
        ``sku, channel, stockout_events, stockout_days, days_observed`` for every series with rows in the
        window (zeros where none stocked out).
    """
    window = sales[(sales["date"] >= start) & (sales["date"] <= end)]
    keys = key_text(window, KEY)
    observed = keys.assign(n=1).groupby(KEY, sort=True, observed=True)["n"].sum().rename("days_observed")
    out = observed.to_frame()
    out["stockout_events"] = 0
    out["stockout_days"] = 0
    if "in_stock" not in window or window.empty:
        return out.reset_index()
    frame = keys.assign(date=window["date"].to_numpy(),
                        out=pd.to_numeric(window["in_stock"], errors="coerce").fillna(1).to_numpy() == 0)
    frame = frame[frame["out"]].sort_values([*KEY, "date"], kind="stable")
    if frame.empty:
        return out.reset_index()
    same = (frame["sku"].to_numpy()[1:] == frame["sku"].to_numpy()[:-1]) & (
        frame["channel"].to_numpy()[1:] == frame["channel"].to_numpy()[:-1])
    gap = np.diff(frame["date"].to_numpy()).astype("timedelta64[D]").astype(int)
    new = np.ones(len(frame), dtype=bool)
    new[1:] = ~(same & (gap == 1))
    frame = frame.assign(new=new)
    grouped = frame.groupby(KEY, sort=True, observed=True).agg(
        stockout_events=("new", "sum"), stockout_days=("out", "sum"))
    out.loc[grouped.index, ["stockout_events", "stockout_days"]] = grouped.to_numpy()
    return out.astype({"stockout_events": int, "stockout_days": int}).reset_index()


def net_units(sales: pd.DataFrame) -> pd.Series:
    """Units sold net of returns (``units - returns`` where the column exists)."""
    units = pd.to_numeric(sales["units"], errors="coerce").fillna(0.0)
    if "returns" in sales:
        units = units - pd.to_numeric(sales["returns"], errors="coerce").fillna(0.0)
    return units


def units_sold(sales: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """``sku, channel, units`` net of returns, sold in ``[start, end]``."""
    window = sales[(sales["date"] >= start) & (sales["date"] <= end)]
    frame = key_text(window, KEY).assign(units=net_units(window).to_numpy())
    return frame.groupby(KEY, sort=True, observed=True)["units"].sum().reset_index()


__all__ = ["net_units", "stockout_events", "units_sold"]
