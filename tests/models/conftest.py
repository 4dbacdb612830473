"""Shared fixtures of the model tests: small hand-made Datasets with the awkward cases built in."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from tests.conftest import SHARED_DATA

M5_TINY = SHARED_DATA / "m5-tiny"  # next to the repository, wherever it is cloned


def complete_sales(frame: pd.DataFrame) -> pd.DataFrame:
    """Complete a hand-made sales frame the way validation does: every day from a series' first row to
    the table's last date, zeros for missing days, a boolean ``censored`` column."""
    frame = frame.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    if "censored" not in frame:
        frame["censored"] = False
    end = frame["date"].max()
    parts = []
    for (sku, channel), grp in frame.groupby(["sku", "channel"], sort=True, observed=True):
        dates = pd.date_range(grp["date"].min(), end, freq="D")
        full = pd.DataFrame({"sku": sku, "channel": channel, "date": dates})
        full = full.merge(grp, on=["sku", "channel", "date"], how="left")
        full["units"] = full["units"].fillna(0.0).astype(float)
        full["censored"] = full["censored"].fillna(False).astype(bool)
        parts.append(full)
    out = pd.concat(parts, ignore_index=True)
    out["sku"] = out["sku"].astype(str)
    out["channel"] = out["channel"].astype(str)
    return out.sort_values(["sku", "channel", "date"]).reset_index(drop=True)


def make_dataset(sales: pd.DataFrame, **tables: Any) -> Dataset:
    """A Dataset from a hand-made sales frame (completed, ``censored`` added when absent)."""
    return Dataset(sales=complete_sales(sales), **tables)


def toy_sales(n_days: int = 120, seed: int = 0) -> pd.DataFrame:
    """Six series covering the data realities: smooth weekly, intermittent, with stockouts, all
    zeros, launched 20 days before the end, and a single day of history."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n_days, freq="D")
    week = 1.0 + 0.5 * np.sin(2 * np.pi * np.arange(n_days) / 7)
    rows = []

    def add(sku: str, channel: str, units: np.ndarray, days: pd.DatetimeIndex, censored=None) -> None:
        rows.append(
            pd.DataFrame(
                {
                    "sku": sku,
                    "channel": channel,
                    "date": days,
                    "units": units.astype(float),
                    "censored": np.zeros(len(days), bool) if censored is None else censored,
                }
            )
        )

    add("smooth", "web", rng.poisson(20 * week), dates)
    add("smooth", "store", rng.poisson(8 * week), dates)
    add("lumpy", "web", rng.binomial(1, 0.15, n_days) * rng.poisson(6, n_days), dates)
    censored = np.zeros(n_days, bool)
    censored[n_days - 30 : n_days - 25] = True
    stock = rng.poisson(5 * week)
    stock[censored] = 0
    add("stockout", "web", stock, dates, censored)
    add("zeros", "web", np.zeros(n_days), dates)
    add("late", "web", rng.poisson(4, 20), dates[-20:])
    add("oneday", "web", np.array([3.0]), dates[-1:])
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def toy_dataset() -> Dataset:
    """120 days of the six awkward series plus two events that reach past the end of sales."""
    sales = toy_sales()
    end = pd.Timestamp(sales["date"].max())
    events = pd.DataFrame(
        {"date": [end - pd.Timedelta(days=10), end + pd.Timedelta(days=3)], "event": ["sale", "sale"]}
    )
    return make_dataset(sales, events=events)


def load_m5_tiny(n_series: int | None = None, last_day: int = 1913, first_day: int = 1) -> Dataset:
    """m5-tiny as a Dataset (item -> sku, store -> channel, prices attached), optionally the first
    ``n_series`` series by row order and days ``first_day..last_day``."""
    raw = pd.read_csv(M5_TINY / "sales_train.csv.gz")
    if n_series is not None:
        raw = raw.iloc[:n_series]
    days = [f"d_{d}" for d in range(first_day, last_day + 1)]
    cal = pd.read_csv(M5_TINY / "calendar.csv", usecols=["date", "d", "wm_yr_wk"])
    long = raw.melt(id_vars=["item_id", "store_id"], value_vars=days, var_name="d", value_name="units")
    long = long.merge(cal, on="d", how="left")
    prices = pd.read_csv(M5_TINY / "sell_prices.csv.gz")
    long = long.merge(prices, on=["store_id", "item_id", "wm_yr_wk"], how="left")
    # Days before an item's first price are before its launch: not part of its series (M5 convention).
    long = long.sort_values(["item_id", "store_id", "date"])
    launched = long.groupby(["item_id", "store_id"])["sell_price"].transform(lambda s: s.notna().cummax())
    long = long[launched.astype(bool)]
    sales = pd.DataFrame(
        {
            "sku": long["item_id"].astype(str),
            "channel": long["store_id"].astype(str),
            "date": pd.to_datetime(long["date"]),
            "units": long["units"].astype(float),
            "price": long["sell_price"].astype(float),
            "censored": False,
        }
    )
    return Dataset(sales=sales.sort_values(["sku", "channel", "date"]).reset_index(drop=True))
