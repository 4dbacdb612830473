"""The one series x day panel: key order, leak-free slicing by cutoff, views not copies, memoization."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from features.importers.m5 import import_m5
from features.panel import Panel, spread
from features.stockouts import StockoutInference
from features.validation import build_dataset


@pytest.fixture(scope="module")
def m5_tables(m5_tiny_dir: Path) -> dict[str, pd.DataFrame]:
    tables = import_m5(m5_tiny_dir)
    sales = tables["sales"]
    # The last 400 days keep the module quick.
    return {**tables, "sales": sales[sales["date"] > sales["date"].max() - pd.Timedelta(days=400)]}


@pytest.fixture(scope="module")
def m5(m5_tables: dict[str, pd.DataFrame]) -> Dataset:
    return build_dataset(m5_tables)


def _sales() -> pd.DataFrame:
    """Three series: one launched late, one with two stockout days, one with a promotion; unsorted keys."""
    dates = pd.date_range("2024-01-01", periods=20, freq="D")
    rows = []
    for sku, channel, start in (("b", "web", 0), ("a", "shop", 8), ("a", "web", 0)):
        days = dates[start:]
        rows.append(pd.DataFrame({
            "date": days, "sku": sku, "channel": channel, "units": np.arange(len(days), dtype=float) + 1,
            "censored": (sku == "b") & days.isin(dates[[5, 6]]),
            "promo": ((sku == "a") & (channel == "web") & days.isin(dates[[10, 11, 12]])).astype(float),
        }))
    frame = pd.concat(rows, ignore_index=True)
    return frame.sort_values(["sku", "channel", "date"]).reset_index(drop=True)


def test_keys_follow_dataset_series_on_real_data(m5: Dataset) -> None:
    panel = m5.panel()
    pd.testing.assert_frame_equal(panel.keys, m5.series())
    assert panel.units.shape == (len(m5.series()), int((m5.end_date - m5.start_date).days) + 1)
    assert panel.dates[0] == m5.start_date and panel.dates[-1] == m5.end_date
    assert (np.diff(panel.dates.asi8) == 86_400 * 10**9).all()  # consecutive days


def test_until_a_cutoff_is_the_panel_of_the_truncated_data(m5: Dataset) -> None:
    """The leak test: rows added after the cutoff change nothing at or before it."""
    panel = m5.panel()
    for cutoff in (m5.end_date - pd.Timedelta(days=100), m5.end_date - pd.Timedelta(days=28)):
        early = panel.until(cutoff)
        truncated = Panel.from_sales(m5.truncate(cutoff).sales)  # built afresh, not shared
        assert np.shares_memory(early.units, panel.units)
        rows = panel.keys.reset_index().merge(truncated.keys, on=["sku", "channel"])["index"].to_numpy()
        np.testing.assert_array_equal(early.units[rows], truncated.units)
        pd.testing.assert_index_equal(early.dates, truncated.dates)
        np.testing.assert_array_equal(early.first_day[rows], truncated.first_day)
        np.testing.assert_array_equal(early.last_day[rows], truncated.last_day)
        np.testing.assert_array_equal(early.censored[rows], truncated.censored)
        # Series launched after the cutoff keep their row in the view, with no day in it.
        later = np.setdiff1d(np.arange(panel.n_series), rows)
        assert (early.first_day[later] == early.n_days).all() and np.isnan(early.units[later]).all()


def test_until_differs_from_the_truncation_only_on_inferred_runs_not_yet_ended(
    m5_tables: dict[str, pd.DataFrame],
) -> None:
    """``truncate`` forgets inferred stockout runs that end after the cutoff; a view cannot (documented)."""
    data = build_dataset(m5_tables, stockouts=StockoutInference())
    runs = data.stockout_runs
    assert runs is not None and len(runs)
    cutoff = runs["end"].sort_values().iloc[len(runs) // 2] - pd.Timedelta(days=1)
    early, truncated = data.panel().until(cutoff), data.truncate(cutoff).panel()
    assert not np.shares_memory(early.units, truncated.units)  # a reopened run: its own panel
    rows = early.keys.reset_index().merge(truncated.keys, on=["sku", "channel"])["index"].to_numpy()
    mine = early.units[rows]
    differ = ~((mine == truncated.units) | (np.isnan(mine) & np.isnan(truncated.units)))
    assert differ.any()
    assert np.isnan(mine[differ]).all() and (truncated.units[differ] == 0).all()
    open_runs = runs[(runs["end"] >= cutoff) & (runs["start"] <= cutoff)]
    days = (open_runs["end"].clip(upper=cutoff) - open_runs["start"]).dt.days + 1
    assert differ.sum() == int(days.sum())


def test_keys_are_sorted_whatever_the_row_order() -> None:
    data = Dataset(sales=_sales())
    shuffled = Dataset(sales=data.sales.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(shuffled.panel().keys, data.series())
    pd.testing.assert_frame_equal(shuffled.panel().keys, shuffled.series())
    np.testing.assert_array_equal(shuffled.panel().units, data.panel().units)


def test_units_censored_mask_and_active_days() -> None:
    panel = Dataset(sales=_sales()).panel()
    assert panel.keys.values.tolist() == [["a", "shop"], ["a", "web"], ["b", "web"]]
    np.testing.assert_array_equal(panel.first_day, [8, 0, 0])
    np.testing.assert_array_equal(panel.last_day, [19, 19, 19])
    assert np.isnan(panel.units[0, :8]).all() and panel.units[0, 8] == 1.0
    assert panel.censored.sum() == 2 and panel.censored[2, [5, 6]].all()
    assert np.isnan(panel.units[2, [5, 6]]).all()
    assert not panel.censored[0, :8].any()  # before launch is not a stockout
    np.testing.assert_array_equal(spread(_sales(), "promo")[1, 10:13], [1.0, 1.0, 1.0])


def test_windows_are_views_with_their_own_active_days() -> None:
    panel = Dataset(sales=_sales()).panel()
    week = panel.window("2024-01-06", "2024-01-12")
    assert np.shares_memory(week.units, panel.units) and week.units.shape == (3, 7)
    assert week.dates[0] == pd.Timestamp("2024-01-06") and week.dates[-1] == pd.Timestamp("2024-01-12")
    np.testing.assert_array_equal(week.first_day, [3, 0, 0])  # "a/shop" starts on the 9th
    np.testing.assert_array_equal(week.last_day, [6, 6, 6])
    assert week.censored[2, [0, 1]].all() and week.censored.sum() == 2
    tail = panel.last(5)
    assert np.shares_memory(tail.units, panel.units)
    np.testing.assert_array_equal(tail.units, panel.units[:, -5:])
    assert panel.last(500).n_days == panel.n_days
    before = panel.until("2024-01-05")
    np.testing.assert_array_equal(before.first_day, [5, 0, 0])  # no row yet: n_days
    np.testing.assert_array_equal(before.last_day, [-1, 4, 4])
    assert panel.window("2025-01-01").n_days == 0
    with pytest.raises(ValueError, match="'days'"):
        panel.last(0)


def test_units_are_read_only() -> None:
    panel = Dataset(sales=_sales()).panel()
    with pytest.raises(ValueError, match="read-only"):
        panel.units[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        panel.until("2024-01-10").units[0, 0] = 1.0


def test_built_once_per_dataset_and_again_for_new_sales() -> None:
    data = Dataset(sales=_sales())
    first = data.panel()
    assert data.panel() is first
    assert data.truncate("2024-01-10").panel() is not first
    assert data.truncate("2024-01-10").panel().n_days == 10
    other = replace(data, sales=data.sales.iloc[:-1].reset_index(drop=True))
    assert other.panel() is not first
    data.sales = data.sales[data.sales["sku"] == "b"]
    assert data.panel().n_series == 1
    assert "_panel" not in repr(data) and data == Dataset(sales=data.sales)
    copied = pickle.loads(pickle.dumps(data))
    assert copied._panel is None and isinstance(copied.panel(), Panel)


def test_empty_sales_give_an_empty_panel() -> None:
    empty = _sales().iloc[:0]
    panel = Dataset(sales=empty).panel()
    assert panel.units.shape == (0, 0) and len(panel.keys) == 0


def test_a_truncation_shares_its_parents_panel_when_every_series_has_begun(m5: Dataset) -> None:
    """No second series x day matrix per backtest fold: the truncation's panel is a view, equal to a
    panel built afresh from its sales; a truncation that drops series builds its own."""
    cutoff = m5.end_date - pd.Timedelta(days=56)
    truncated = m5.truncate(cutoff)
    fresh = Panel.from_sales(truncated.sales)
    shared = truncated.panel()
    assert np.shares_memory(shared.units, m5.panel().units)
    np.testing.assert_array_equal(shared.units, fresh.units)
    pd.testing.assert_frame_equal(shared.keys, fresh.keys)
    pd.testing.assert_index_equal(shared.dates, fresh.dates)
    np.testing.assert_array_equal(shared.first_day, fresh.first_day)
    np.testing.assert_array_equal(shared.last_day, fresh.last_day)
    # Nested truncations (a combination's holdout inside a backtest fold) share it too.
    assert np.shares_memory(truncated.truncate(cutoff - pd.Timedelta(days=28)).panel().units,
                            m5.panel().units)

    late = _sales()
    data = Dataset(sales=late)
    early = data.truncate(pd.Timestamp("2024-01-05"))  # ("a", "shop") starts on day 8: not there yet
    assert not np.shares_memory(early.panel().units, data.panel().units)
    np.testing.assert_array_equal(early.panel().units, Panel.from_sales(early.sales).units)
    # Not shared, so not kept either: a fold would otherwise hold a second full matrix while it runs.
    assert early.panel() is not early.panel()
    assert truncated.panel() is truncated.panel()
