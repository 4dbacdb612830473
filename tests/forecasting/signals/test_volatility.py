"""Known-answer and FDR tests of volatility-shift detection on constructed series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from forecasting.signals.volatility import SHIFT_COLUMNS, detect_volatility_shifts

START = pd.Timestamp("2023-01-02")
N_DAYS = 728


def _gamma_poisson(rng: np.random.Generator, mean: float, cv: np.ndarray) -> np.ndarray:
    shape = 1.0 / cv**2
    return rng.poisson(mean * rng.gamma(shape, 1.0 / shape))


def _sales(units: np.ndarray, skus: list[str]) -> pd.DataFrame:
    n_series, n_days = units.shape
    return pd.DataFrame({
        "date": np.tile(START + pd.to_timedelta(np.arange(n_days), unit="D"), n_series),
        "sku": np.repeat(skus, n_days), "channel": "web", "units": units.ravel().astype(float),
        "censored": False,
    })


def test_variance_jump_is_found_near_its_date_and_a_stationary_series_is_not():
    rng = np.random.default_rng(11)
    change = 400
    cv = np.full(N_DAYS, 0.2)
    cv[change:] = 0.6
    jump = _gamma_poisson(rng, 20.0, cv)
    # A level that doubles with unchanged noise is not a volatility shift.
    level = np.where(np.arange(N_DAYS) < change, 10.0, 20.0)
    grown = rng.poisson(level * rng.gamma(25.0, 1 / 25.0, N_DAYS))
    flat = _gamma_poisson(rng, 20.0, np.full(N_DAYS, 0.3))
    data = Dataset(sales=_sales(np.stack([jump, grown, flat]), ["JUMP", "GROWN", "FLAT"]))
    shifts = detect_volatility_shifts(data)
    assert list(shifts.columns) == SHIFT_COLUMNS
    assert shifts["sku"].tolist() == ["JUMP"]
    row = shifts.iloc[0]
    assert abs((row["changed_at"] - (START + pd.Timedelta(days=change))).days) <= 14
    assert row["cv_after"] / row["cv_before"] > 1.8
    assert row["q_value"] < 0.01


def test_a_calmer_regime_is_found_too():
    rng = np.random.default_rng(12)
    cv = np.full(N_DAYS, 0.7)
    cv[300:] = 0.2
    data = Dataset(sales=_sales(_gamma_poisson(rng, 15.0, cv)[None, :], ["CALM"]))
    shifts = detect_volatility_shifts(data)
    assert len(shifts) == 1
    assert shifts.iloc[0]["cv_before"] > 1.8 * shifts.iloc[0]["cv_after"]


def test_false_discoveries_stay_rare_across_many_null_series():
    rng = np.random.default_rng(13)
    n = 300
    means = rng.uniform(3.0, 40.0, n)
    cvs = rng.uniform(0.1, 0.6, n)
    weekday = np.array([1.0, 0.9, 0.9, 1.0, 1.1, 1.2, 0.9])[np.arange(N_DAYS) % 7]
    units = np.stack([
        rng.poisson(m * weekday * rng.gamma(1 / c**2, c**2, N_DAYS)) for m, c in zip(means, cvs, strict=True)
    ])
    data = Dataset(sales=_sales(units, [f"N{i:03d}" for i in range(n)]))
    everything = detect_volatility_shifts(data, return_all=True)
    assert len(everything) == n
    # Under the null the p-values are (conservatively) uniform: few are small.
    assert (everything["p_value"] < 0.05).mean() <= 0.08
    assert len(detect_volatility_shifts(data)) <= 3


def test_intermittent_series_are_not_scanned():
    rng = np.random.default_rng(14)
    sparse = rng.poisson(0.2, N_DAYS)
    data = Dataset(sales=_sales(sparse[None, :], ["SPARSE"]))
    assert detect_volatility_shifts(data, return_all=True).empty


def test_stockout_days_are_not_read_as_volatility():
    rng = np.random.default_rng(15)
    units = _gamma_poisson(rng, 20.0, np.full(N_DAYS, 0.25)).astype(float)
    sales = _sales(units[None, :], ["S"])
    # Frequent stockouts in the second year: zero sales there are censored, not calm or wild demand.
    out = rng.random(N_DAYS) < 0.15
    out[:400] = False
    sales.loc[out, "units"] = 0.0
    sales.loc[out, "censored"] = True
    assert detect_volatility_shifts(Dataset(sales=sales)).empty


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("fdr", 0.0, "'fdr' of detect_volatility_shifts must be a false discovery rate in \\(0, 1\\)"),
        ("min_weeks", 4, "'min_weeks' of detect_volatility_shifts must be a whole number of weeks >= 12"),
        ("level_days", 28, "'level_days' of detect_volatility_shifts must be an odd number of days"),
        ("min_ratio", 0.5, "'min_ratio' of detect_volatility_shifts must be a CV ratio >= 1"),
    ],
)
def test_bad_parameters_are_named(param, value, match):
    data = Dataset(sales=_sales(np.ones((1, 100)), ["S"]))
    with pytest.raises(ValueError, match=match):
        detect_volatility_shifts(data, **{param: value})


def test_real_m5_slice_raises_few_volatility_alarms(m5_tiny_dir):
    from features.importers import import_m5
    from features.validation import build_dataset

    tables = import_m5(m5_tiny_dir)
    items = sorted(tables["sales"]["sku"].unique())[:12]
    tables["sales"] = tables["sales"][tables["sales"]["sku"].isin(items)]
    data = build_dataset(tables)
    scanned = detect_volatility_shifts(data, return_all=True)
    found = detect_volatility_shifts(data)
    # Walmart food/household demand is mostly steady: the FDR-controlled scan must stay quiet.
    assert len(scanned) >= 30
    assert len(found) <= 0.05 * len(data.series())
    assert (found["q_value"] <= 0.05).all()
