"""Tests of the global LightGBM quantile forecaster (single-threaded, small panels, few rounds)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from features.schema import M5_QUANTILES, quantile_column
from features.specs import Calendar, Lags, RollingOnLag
from models.base import NotFittedError
from models.lightgbm_quantile import LightGBMQuantile, feature_matrix
from tests.models.conftest import make_dataset, toy_sales

FAST: dict[str, Any] = {
    "n_estimators": 40, "learning_rate": 0.15, "num_leaves": 15, "min_child_samples": 20, "n_jobs": 1,
}


def _panel(n_series: int = 24, n_days: int = 200, seed: int = 0) -> pd.DataFrame:
    """Poisson series with different levels and a strong weekly pattern."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=n_days, freq="D")
    weekly = np.array([0.6, 0.7, 0.8, 0.9, 1.1, 1.6, 1.3])[dates.dayofweek]
    levels = rng.choice([0.3, 2.0, 8.0, 25.0], n_series)
    units = rng.poisson(levels[:, None] * weekly[None, :])
    return pd.DataFrame({"sku": np.repeat([f"s{i:02d}" for i in range(n_series)], n_days), "channel": "web",
                         "date": np.tile(dates, n_series), "units": units.reshape(-1).astype(float),
                         "censored": False})


def _pinball(actual: np.ndarray, forecast: pd.DataFrame, quantiles) -> float:
    total = 0.0
    for q in quantiles:
        err = actual - forecast[quantile_column(q)].to_numpy()
        total += float(np.mean(np.maximum(q * err, (q - 1) * err)))
    return total / len(quantiles)


@pytest.mark.parametrize("horizon_aware", [True, False])
def test_beats_a_per_series_mean_on_pinball_loss(horizon_aware: bool):
    sales = _panel()
    end = sales["date"].max()
    cutoff = end - pd.Timedelta(days=28)
    train = make_dataset(sales[sales["date"] <= cutoff])
    model = LightGBMQuantile(horizon_aware=horizon_aware, **FAST).fit(train)
    assert ("horizon" in model.feature_names_) == horizon_aware
    forecast = model.predict(28).merge(sales, on=["sku", "channel", "date"])
    actual = forecast["units"].to_numpy()
    naive = forecast[["sku"]].merge(
        train.sales.groupby("sku", observed=True)["units"].mean().reset_index(), on="sku")[
            "units"].to_numpy()
    naive_frame = pd.DataFrame({quantile_column(q): naive for q in M5_QUANTILES})
    assert _pinball(actual, forecast, M5_QUANTILES) < 0.85 * _pinball(actual, naive_frame, M5_QUANTILES)
    cols = [quantile_column(q) for q in M5_QUANTILES]
    assert (np.diff(forecast[cols].to_numpy(), axis=1) >= 0).all()
    assert forecast["date"].min() == cutoff + pd.Timedelta(days=1)
    assert set(forecast["model"]) == {"lightgbm"}
    assert set(model.feature_importances_.columns) == {"feature", "gain"}
    assert model.feature_importances_["gain"].sum() == pytest.approx(1.0)


def test_new_and_short_series_are_served_and_tagged(toy_dataset: Dataset):
    model = LightGBMQuantile(**FAST).fit(toy_dataset)
    forecast = model.predict(14)
    assert len(forecast) == 7 * 14  # every series, including the one-day and all-zero ones
    tags = forecast.groupby("sku", observed=True)["model"].first()
    assert tags["late"] == "lightgbm:new_sku" and tags["oneday"] == "lightgbm:new_sku"
    assert tags["smooth"] == "lightgbm"
    values = forecast[[quantile_column(q) for q in M5_QUANTILES]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert forecast.loc[forecast["sku"] == "oneday", "0.995"].max() > 0


def test_works_with_sales_only_and_with_all_optional_tables():
    sales = toy_sales(n_days=90)
    bare = Dataset(sales=make_dataset(sales).sales.drop(columns=[], errors="ignore"))
    assert LightGBMQuantile(**FAST).fit(bare).predict(7)["mean"].notna().all()

    end = sales["date"].max()
    skus = pd.DataFrame({"sku": sorted(sales["sku"].unique())}).assign(unit_cost=1.0, unit_price=2.0,
                                                                       category="toys", supplier="S1")
    promotions = pd.DataFrame({"sku": ["smooth"], "channel": ["web"], "start": [end + pd.Timedelta(days=1)],
                               "end": [end + pd.Timedelta(days=5)]})
    events = pd.DataFrame({"date": [end - pd.Timedelta(days=7), end + pd.Timedelta(days=2)],
                           "event": ["sale", "sale"]})
    priced = sales.assign(price=10.0)
    rich = make_dataset(priced, skus=skus, promotions=promotions, events=events)
    model = LightGBMQuantile(**FAST).fit(rich)
    assert {"promo", "event_next", "price_rel", "static_category"} <= set(model.feature_names_)
    assert model.predict(7)["mean"].notna().all()


def test_sample_paths_follow_the_quantiles_and_interpolated_levels(toy_dataset: Dataset):
    model = LightGBMQuantile(path_rho=0.4, **FAST).fit(toy_dataset)
    paths = model.sample_paths(28, n_paths=400, random_state=1)
    assert paths.values.shape == (7, 400, 28) and (paths.values >= 0).all()
    assert paths.start == toy_dataset.end_date + pd.Timedelta(days=1)
    forecast = model.predict(28)
    smooth = forecast[(forecast["sku"] == "smooth") & (forecast["channel"] == "web")]
    row = int(np.flatnonzero((paths.keys["sku"] == "smooth") & (paths.keys["channel"] == "web"))[0])
    median_paths = np.median(paths.values[row], axis=0)
    assert np.corrcoef(median_paths, smooth["0.5"].to_numpy())[0, 1] > 0.5
    other = model.predict(7, quantiles=(0.1, 0.5, 0.9))
    assert (other["0.1"] <= other["0.5"]).all() and (other["0.5"] <= other["0.9"]).all()


def test_estimated_rho_is_a_valid_correlation(toy_dataset: Dataset):
    model = LightGBMQuantile(**FAST).fit(toy_dataset)
    assert 0.0 <= model.rho_ < 1.0


def test_custom_specs_and_horizon_limit():
    data = make_dataset(_panel(n_series=6, n_days=120))
    specs = (Lags(lags=(7, 14)), RollingOnLag(windows=(7,)), Calendar(fields=("dayofweek",)))
    model = LightGBMQuantile(max_horizon=7, specs=specs, **FAST).fit(data)
    assert model.feature_names_ == ["lag_7", "lag_14", "roll_mean_7_origin", "roll_std_7_origin",
                                       "cal_dayofweek", "horizon"]
    assert len(model.predict(7)) == 6 * 7
    with pytest.raises(ValueError, match="'horizon' of 8 days exceeds max_horizon=7"):
        model.predict(8)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError, match="LightGBMQuantile is not fitted yet"):
        LightGBMQuantile().predict(7)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"quantiles": (0.5,)}, "'quantiles' of LightGBMQuantile must be at least two distinct levels"),
        ({"quantiles": (0.1, 1.2)}, "'quantiles' of LightGBMQuantile must be"),
        ({"n_estimators": 0}, "'n_estimators' of LightGBMQuantile must be a whole number >= 1"),
        ({"learning_rate": 0.0}, r"'learning_rate' of LightGBMQuantile must be a number in \(0, 1\]"),
        ({"num_leaves": 1}, "'num_leaves' of LightGBMQuantile must be a whole number >= 2"),
        ({"train_days": 3}, "'train_days' of LightGBMQuantile must be a whole number >= 7"),
        ({"tweedie_variance_power": 2.0}, r"'tweedie_variance_power' .* must be a number in \[1, 2\)"),
        ({"path_rho": 1.0}, r"'path_rho' of LightGBMQuantile must be None \(estimate it\)"),
        ({"n_jobs": 0}, "'n_jobs' of LightGBMQuantile must be a whole number >= 1"),
        ({"horizon_aware": "yes"}, "'horizon_aware' of LightGBMQuantile must be True or False"),
        ({"min_rows_per_sku": 0}, "'min_rows_per_sku' of LightGBMQuantile must be None or a whole number"),
    ],
)
def test_param_checks(params, match):
    with pytest.raises(ValueError, match=match):
        LightGBMQuantile(**params).fit(make_dataset(toy_sales(n_days=30)))


def test_refresh_forecasts_from_the_new_origin_with_the_same_boosters(toy_dataset: Dataset):
    cutoff = toy_dataset.end_date - pd.Timedelta(days=14)
    model = LightGBMQuantile(path_rho=0.3, **FAST).fit(toy_dataset.truncate(cutoff))
    before = model.predict(7)
    fresh = model.refresh(toy_dataset)
    fc = fresh.predict(7)
    assert fc["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    assert fresh.boosters_ is model.boosters_ and fresh.rho_ == model.rho_
    pd.testing.assert_frame_equal(model.predict(7), before)  # the fitted model is untouched
    # Same boosters, features at the new origin: what transform + boosters give for those rows.
    dates = pd.date_range(toy_dataset.end_date + pd.Timedelta(days=1), periods=fresh.max_horizon)
    rows = model.builder_.transform(toy_dataset, dates)
    mean, _ = model._predict_frame(rows)
    np.testing.assert_allclose(fresh.mean_.reshape(-1), mean)
    with pytest.raises(ValueError, match="before the fitted data"):
        fresh.refresh(toy_dataset.truncate(cutoff))


@pytest.mark.parametrize(("min_rows", "uses_sku"), [(None, True), (1, True), (10**6, False)])
def test_the_sku_identity_needs_enough_rows_per_sku(toy_dataset: Dataset, min_rows, uses_sku: bool):
    model = LightGBMQuantile(min_rows_per_sku=min_rows, **FAST).fit(toy_dataset)
    assert ("static_sku" in model.feature_names_) is uses_sku
    assert "static_channel" in model.feature_names_
    assert set(model.feature_importances_["feature"]) == set(model.feature_names_)
    assert model.predict(7)["mean"].notna().all()


def test_warm_refit_continues_every_booster_on_the_recent_rows():
    toy_dataset = make_dataset(_panel())
    cutoff = toy_dataset.end_date - pd.Timedelta(days=14)
    model = LightGBMQuantile(warm_rounds=5, warm_days=60, **FAST).fit(toy_dataset.truncate(cutoff))
    before = model.predict(7)
    warm = model.refit(toy_dataset)
    assert warm.origin_ == toy_dataset.end_date and warm.cold_origin_ == cutoff
    assert warm.predict(7)["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    assert set(warm.boosters_) == set(model.boosters_)
    # The estimated path correlation is the earlier fit's (its paths are what a combination calibrated).
    assert warm.rho_ == model.rho_ and model.path_rho is None
    rows = model.builder_.transform(toy_dataset, pd.date_range(cutoff - pd.Timedelta(days=20), cutoff),
                                    rng=np.random.default_rng(0))
    x = rows[model.feature_names_]
    for name, booster in warm.boosters_.items():
        assert booster.num_trees() == FAST["n_estimators"] + 5
        # The first trees are the earlier fit's: the new ones are added on top of them.
        np.testing.assert_allclose(booster.predict(x, num_iteration=FAST["n_estimators"]),
                                   model.boosters_[name].predict(x))
        assert not np.allclose(booster.predict(x), model.boosters_[name].predict(x))
    pd.testing.assert_frame_equal(model.predict(7), before)  # the earlier fit is untouched
    with pytest.raises(ValueError, match=r"Cannot refit on data ending .*, before the fitted data"):
        warm.refit(toy_dataset.truncate(cutoff))


@pytest.mark.parametrize(("overlap", "days_back"), [(10, 14 + 9), (None, 59), (100, 59)])
def test_warm_rows_are_the_days_after_the_cold_fit_and_an_overlap(toy_dataset: Dataset, overlap,
                                                                   days_back: int):
    cutoff = toy_dataset.end_date - pd.Timedelta(days=14)
    model = LightGBMQuantile(warm_rounds=2, warm_days=60, warm_overlap_days=overlap,
                             **FAST).fit(toy_dataset.truncate(cutoff))
    warm = model.refit(toy_dataset)
    # Overlap 10: the 14 new days and the 10 before the cold fit's end; None or a long overlap: 60 days.
    assert warm.warm_start_ == toy_dataset.end_date - pd.Timedelta(days=days_back)


@pytest.mark.parametrize(("params", "days_later"), [({"warm_rounds": 0}, 14), ({"warm_days": 28}, 40)])
def test_refit_is_cold_without_warm_rounds_or_long_after_the_cold_fit(toy_dataset: Dataset, params,
                                                                       days_later: int):
    cutoff = toy_dataset.end_date - pd.Timedelta(days=days_later)
    model = LightGBMQuantile(**params, **FAST).fit(toy_dataset.truncate(cutoff))
    again = model.refit(toy_dataset)
    assert again.cold_origin_ == toy_dataset.end_date
    assert all(b.num_trees() == FAST["n_estimators"] for b in again.boosters_.values())


def test_boosters_predict_the_feature_matrix_as_they_predict_the_frame(toy_dataset: Dataset):
    model = LightGBMQuantile(n_estimators=20, max_horizon=7, n_jobs=1, min_rows_per_sku=None).fit(toy_dataset)
    dates = pd.date_range(toy_dataset.end_date + pd.Timedelta(days=1), periods=7, freq="D")
    frame = model.builder_.transform(toy_dataset, dates).loc[:, model.feature_names_]
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    assert categorical  # the conversion of categories is exercised
    # A category the boosters never saw and a missing value: both NaN, as LightGBM reads them.
    column = categorical[0]
    frame[column] = frame[column].cat.add_categories(["never-seen"])
    frame.loc[frame.index[0], column] = "never-seen"
    frame.loc[frame.index[1], column] = np.nan
    booster = model.boosters_["0.5"]
    matrix = feature_matrix(frame, booster.pandas_categorical)
    assert isinstance(matrix, np.ndarray) and np.isnan(matrix[:2, frame.columns.get_loc(column)]).all()
    for name, b in model.boosters_.items():
        np.testing.assert_array_equal(b.predict(matrix), b.predict(frame), err_msg=name)
