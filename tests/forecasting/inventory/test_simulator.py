"""Policy simulator: known answers on constant demand, policy ordering on a synthetic catalogue, checks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.dataset import Dataset
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.inventory.rules import load_rules
from forecasting.inventory.simulator import (
    ALL_JIT,
    ALL_SAFETY_STOCK,
    BLENDED,
    SimulationConfig,
    simulate,
    weekly_bootstrap_paths,
)
from models.baselines import SeasonalNaive
from models.combination import Combination


def _constant(days: int = 200) -> Dataset:
    dates = pd.date_range("2025-01-01", periods=days)
    sales = pd.concat([pd.DataFrame({"date": dates, "sku": sku, "channel": "web", "units": level,
                                     "censored": False}) for sku, level in (("a", 4.0), ("b", 1.0))],
                      ignore_index=True)
    skus = pd.DataFrame({"sku": ["a", "b"], "unit_cost": [2.0, 5.0], "unit_price": [4.0, 9.0],
                         "supplier": ["S", "S"]})
    suppliers = pd.DataFrame({"supplier": ["S"], "promised_lead_time_days": [5.0]})
    ordered = pd.date_range("2025-01-01", periods=20, freq="7D")
    receipts = pd.DataFrame({"supplier": "S", "ordered_on": ordered,
                             "received_on": ordered + pd.Timedelta(days=5)})
    return Dataset(sales=sales, skus=skus, suppliers=suppliers, receipts=receipts)


def test_constant_demand_and_fixed_lead_time_never_stock_out() -> None:
    result = simulate(_constant(), load_rules(), SimulationConfig(days=90))
    overall = result.kpis[result.kpis["segment"] == "ALL"].set_index("policy")
    assert set(overall.index) == {ALL_JIT, ALL_SAFETY_STOCK, BLENDED}
    assert (overall["fill_rate"] == 1.0).all()
    assert (overall["stockout_rate"] == 0.0).all()
    assert (overall["cycle_service_level"] == 1.0).all()
    # 90 days of 4 + 1 units at prices 4 and 9.
    series = result.series[result.series["policy"] == ALL_JIT].set_index("sku")
    assert series.loc["a", "demand"] == pytest.approx(360.0)
    assert series["revenue"].sum() == pytest.approx(90 * (4 * 4.0 + 1 * 9.0))
    assert (overall["turnover"] > 0).all()


@pytest.fixture(scope="module")
def synthetic_result():
    catalogue = generate_catalogue(12, 2, 300, 5)
    data = build_dataset(catalogue.tables)
    truth = catalogue.truth.mean
    config = SimulationConfig(days=120, n_paths=100)
    first = simulate(data, load_rules(), config, demand=truth)
    return first, simulate(data, load_rules(), config, demand=truth)


def test_safety_stock_holds_more_and_stocks_out_less_than_jit(synthetic_result) -> None:
    result, _ = synthetic_result
    overall = result.kpis[result.kpis["segment"] == "ALL"].set_index("policy")
    assert overall.loc[ALL_SAFETY_STOCK, "avg_inventory_value"] > overall.loc[ALL_JIT, "avg_inventory_value"]
    assert overall.loc[ALL_SAFETY_STOCK, "stockout_rate"] < overall.loc[ALL_JIT, "stockout_rate"]
    for col in ("fill_rate", "cycle_service_level", "stockout_rate"):
        assert overall[col].between(0.0, 1.0).all()
    assert set(result.kpis["segment"]) >= {"ALL", "A"}
    assert len(result.daily) == 3 * 120


def test_simulation_is_reproducible(synthetic_result) -> None:
    first, second = synthetic_result
    pd.testing.assert_frame_equal(first.kpis, second.kpis)


def test_forecaster_plans_blended_only_and_baselines_keep_the_classic_estimates(synthetic_result) -> None:
    bootstrap, _ = synthetic_result
    catalogue = generate_catalogue(12, 2, 300, 5)
    data = build_dataset(catalogue.tables)
    with_model = simulate(data, load_rules(), SimulationConfig(days=120, n_paths=100),
                          demand=catalogue.truth.mean, forecaster=SeasonalNaive())
    by = {name: r.kpis[r.kpis["segment"] == "ALL"].set_index("policy") for name, r in
          (("bootstrap", bootstrap), ("model", with_model))}
    # The classic baselines plan from the same bootstrap either way: identical results.
    pd.testing.assert_frame_equal(by["bootstrap"].loc[[ALL_JIT, ALL_SAFETY_STOCK]],
                                  by["model"].loc[[ALL_JIT, ALL_SAFETY_STOCK]])
    # BLENDED plans from the re-fitted model's paths, so its stock differs.
    assert by["model"].loc[BLENDED, "avg_inventory_value"] != pytest.approx(
        by["bootstrap"].loc[BLENDED, "avg_inventory_value"], rel=1e-6)


def test_weekday_bootstrap_resamples_recent_weeks_only() -> None:
    history = np.concatenate([np.full(70, 100.0), np.tile(np.arange(7.0), 2)])[None, :]
    history[0, -1] = np.nan  # a censored Sunday takes the window mean
    paths = weekly_bootstrap_paths(history, 10, 50, 2, np.random.default_rng(0))
    assert paths.shape == (1, 50, 10)
    fill = np.nanmean(history[0, -14:])
    # Only the last two weeks feed the paths (never the older 100s); the gap takes the window mean.
    assert set(np.unique(paths)) <= {*np.arange(7.0), fill}
    assert fill in set(np.unique(paths))
    assert (paths[0, :, 0] == 0.0).all()  # day one of every path is the weekday of the first block day


def test_too_little_history_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"The 'days' to simulate \(180\) leave 20 days of history"):
        simulate(_constant(200), load_rules(), SimulationConfig(days=180))


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValidationError, match="'policies' must be among ALL_JIT"):
        SimulationConfig(policies=("ALL_JIT", "KANBAN"))


class _CountingNaive(SeasonalNaive):
    """Seasonal naive recording the last day of every data set it is fitted on."""

    fits: ClassVar[list[pd.Timestamp]] = []

    def _fit(self, data: Dataset) -> None:
        type(self).fits.append(data.end_date)
        super()._fit(data)


def test_a_combination_forecaster_fits_each_member_once_per_replan() -> None:
    catalogue = generate_catalogue(8, 2, 300, 5)
    data = build_dataset(catalogue.tables)
    _CountingNaive.fits = []
    forecaster = Combination(members={"naive": _CountingNaive()}, holdout_days=28, holdout_folds=2)
    result = simulate(data, load_rules(), SimulationConfig(days=84, n_paths=50),
                      demand=catalogue.truth.mean, forecaster=forecaster)
    # Three calibration origins (T-84, T-56, T-28) and three re-plans (T, T+28, T+56) 28 days apart, two
    # holdout windows: the first origin fits at T-140, T-112 and T-84; every later plan's holdouts are
    # earlier plans' origins, so it adds one fit.
    assert len(_CountingNaive.fits) == 8
    assert len(set(_CountingNaive.fits)) == 8
    assert result.kpis.loc[result.kpis["policy"] == BLENDED, "fill_rate"].notna().all()
