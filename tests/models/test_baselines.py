"""Tests of the seasonal naive baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from features.schema import M5_QUANTILES, quantile_column
from models.base import NotFittedError
from models.baselines import SeasonalNaive


def _dataset(series: dict[tuple[str, str], np.ndarray], end: str = "2024-03-31",
             censored: dict[tuple[str, str], list[int]] | None = None) -> Dataset:
    """A complete sales table ending at ``end``; each series' values end on that date."""
    frames = []
    for (sku, channel), units in series.items():
        dates = pd.date_range(end=end, periods=len(units), freq="D")
        flag = np.zeros(len(units), dtype=bool)
        for i in (censored or {}).get((sku, channel), []):
            flag[i] = True
        frames.append(pd.DataFrame({"date": dates, "sku": sku, "channel": channel,
                                    "units": units.astype(float), "censored": flag}))
    sales = pd.concat(frames).sort_values(["sku", "channel", "date"]).reset_index(drop=True)
    return Dataset(sales=sales)


def test_point_repeats_last_week_and_starts_after_end_date():
    week = np.array([1, 2, 3, 4, 5, 6, 7])
    data = _dataset({("a", "web"): np.tile(week, 10)})
    fc = SeasonalNaive().fit(data).predict(14)
    assert fc["date"].min() == data.end_date + pd.Timedelta(days=1)
    np.testing.assert_allclose(fc["mean"].to_numpy(), np.tile(week, 2))
    # A perfectly periodic series has zero seasonal differences: every quantile equals the point.
    np.testing.assert_allclose(fc[quantile_column(0.995)], fc["mean"])
    assert set(fc["model"]) == {"seasonal_naive"}


def test_censored_last_week_value_falls_back_to_earlier_same_weekday():
    units = np.tile(np.array([5, 5, 5, 5, 5, 5, 5]), 4)
    units[-7] = 0  # a stockout day shows zero sales
    data = _dataset({("a", "web"): units}, censored={("a", "web"): [len(units) - 7]})
    fc = SeasonalNaive().fit(data).predict(7)
    assert fc["mean"].iloc[0] == 5.0


def test_quantiles_cover_noise_and_never_cross():
    rng = np.random.default_rng(1)
    data = _dataset({("a", "web"): rng.poisson(20, 200), ("b", "web"): rng.poisson(0.3, 200),
                     ("c", "shop"): np.array([3.0])})
    fc = SeasonalNaive().fit(data).predict(28, M5_QUANTILES)
    cols = [quantile_column(q) for q in M5_QUANTILES]
    values = fc[cols].to_numpy()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    a = fc[fc["sku"] == "a"]
    assert (a["0.975"] - a["0.025"]).min() > 5  # Poisson(20) noise is wide
    c = fc[fc["sku"] == "c"]
    assert len(c) == 28 and np.allclose(c["mean"], 3.0)  # one-day series still forecast


def test_sample_paths_shape_nonnegative_and_weekly_blocks():
    rng = np.random.default_rng(2)
    data = _dataset({("a", "web"): rng.poisson(10, 120), ("b", "web"): rng.poisson(1, 120)})
    model = SeasonalNaive().fit(data)
    paths = model.sample_paths(28, n_paths=200, random_state=3)
    assert paths.values.shape == (2, 200, 28)
    assert (paths.values >= 0).all()
    totals = paths.totals(7)
    assert totals.shape == (2, 200)
    assert totals[0].std() > 0
    again = model.sample_paths(28, n_paths=200, random_state=3)
    np.testing.assert_array_equal(paths.values, again.values)


def test_sample_paths_in_blocks_of_series_draw_the_same_values(monkeypatch):
    rng = np.random.default_rng(4)
    data = _dataset({(f"s{i}", "web"): rng.poisson(1 + i, 120) for i in range(5)})
    model = SeasonalNaive().fit(data)
    whole = model.sample_paths(28, n_paths=50, random_state=3)
    # Two series per block: the blocks must not change the draws, only bound the temporaries.
    monkeypatch.setattr("models.baselines._PATH_VALUES_PER_BLOCK", 2 * 50 * 28)
    blocked = model.sample_paths(28, n_paths=50, random_state=3)
    np.testing.assert_array_equal(whole.values, blocked.values)
    every = model.sample_paths(28, n_paths=50, random_state=3, rows=np.arange(5))
    np.testing.assert_array_equal(whole.values, every.values)
    # A subset draws only its rows (another random stream, the same distribution per row).
    two = model.sample_paths(28, n_paths=50, random_state=3, rows=np.array([4, 1]))
    assert two.values.shape == (2, 50, 28)
    assert list(two.keys["sku"]) == ["s4", "s1"]
    np.testing.assert_allclose(two.values.mean(axis=(1, 2)), whole.values[[4, 1]].mean(axis=(1, 2)),
                               rtol=0.3)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        SeasonalNaive().predict(7)


@pytest.mark.parametrize(
    ("params", "match"),
    [({"season_length": 0}, "'season_length' of SeasonalNaive must be a whole number of days >= 1"),
     ({"window_seasons": 1.5}, "'window_seasons' of SeasonalNaive must be a whole number"),
     ({"window_seasons": True}, "'window_seasons' of SeasonalNaive must be a whole number")],
)
def test_param_checks(params, match):
    data = _dataset({("a", "web"): np.ones(30)})
    with pytest.raises(ValueError, match=match):
        SeasonalNaive(**params).fit(data)
