"""Drift statistics (PSI, KS), injected drift against unchanged data, forecast drift and realized accuracy."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from features.dataset import Dataset
from features.importers.m5 import import_m5
from features.validation import build_dataset
from forecasting.evaluation.drift import (
    DriftThresholds,
    compute_drift,
    ks_test,
    psi,
    psi_from_counts,
    quantile_bins,
)
from forecasting.evaluation.realized_accuracy import (
    compare_forecasts,
    read_forecasts,
    relative_change,
    score_forecast,
)
from forecasting.persistence import ResultStore

# --- PSI and KS on known distributions -------------------------------------------------------------


def test_psi_known_answer_on_hand_made_bins() -> None:
    ref, rec = np.array([50, 30, 20]), np.array([30, 30, 40])
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0.0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi_from_counts(ref, rec) == pytest.approx(expected, rel=1e-12)
    assert psi_from_counts(ref, ref) == 0.0


def test_psi_of_an_empty_bin_is_finite() -> None:
    value = psi_from_counts(np.array([100, 0]), np.array([50, 50]))
    assert np.isfinite(value) and value > 1.0


def test_psi_identical_distributions_is_about_zero() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    assert psi(x, x) == 0.0
    assert psi(x, rng.normal(size=20_000)) < 0.01


def test_psi_shifted_distribution_is_large() -> None:
    rng = np.random.default_rng(1)
    ref, shifted = rng.normal(size=20_000), rng.normal(loc=1.0, size=20_000)
    assert psi(ref, shifted) > 0.5
    small = psi(ref, rng.normal(loc=0.2, size=20_000))
    assert 0.02 < small < psi(ref, shifted)


def test_quantile_bins_merge_ties_of_zero_heavy_demand() -> None:
    ref = np.r_[np.zeros(70), np.arange(1, 31)]
    edges = quantile_bins(ref, bins=10)
    assert len(edges) == len(np.unique(edges)) and edges[0] == 0.0
    assert psi(ref, ref.copy()) == 0.0
    assert psi(ref, np.r_[np.zeros(20), np.arange(1, 81)]) > 0.25


def test_ks_known_distributions() -> None:
    rng = np.random.default_rng(2)
    stat, p = ks_test(rng.normal(size=5000), rng.normal(size=5000))
    assert stat < 0.05 and p > 0.01
    stat, p = ks_test(rng.normal(size=5000), rng.normal(loc=1.0, size=5000))
    # The KS distance of N(0,1) and N(1,1) is 2 * Phi(0.5) - 1.
    assert stat == pytest.approx(2 * norm.cdf(0.5) - 1, abs=0.03) and p < 1e-10
    assert all(np.isnan(ks_test(np.array([np.nan]), np.array([1.0]))))


def test_psi_from_counts_rejects_mismatched_bins() -> None:
    with pytest.raises(ValueError, match=r"same bins. Got shapes \(3,\) and \(2,\)"):
        psi_from_counts(np.array([1, 2, 3]), np.array([1, 2]))


# --- compute_drift: injected drift is flagged, unchanged data is not -------------------------------


def _stationary(n_series: int = 40, n_days: int = 240, seed: int = 7, recent_factor: float = 1.0) -> Dataset:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n_days, freq="D")
    rates = rng.lognormal(mean=1.5, sigma=0.8, size=n_series)
    units = rng.poisson(rates[:, None], size=(n_series, n_days)).astype(float)
    units[:, -28:] = rng.poisson(rates[:, None] * recent_factor, size=(n_series, 28))
    sales = pd.DataFrame({
        "date": np.tile(dates, n_series),
        "sku": np.repeat([f"S{i:03d}" for i in range(n_series)], n_days),
        "channel": "web",
        "units": units.ravel(),
        "price": np.repeat(rng.uniform(2, 20, n_series).round(2), n_days),
    })
    return build_dataset({"sales": sales})


@pytest.fixture
def empty_store(tmp_path: Path) -> ResultStore:
    return ResultStore(f"sqlite:///{tmp_path / 'drift.db'}")


def test_unchanged_data_is_ok(empty_store: ResultStore) -> None:
    result = compute_drift(_stationary(), empty_store, volatility=False)
    assert result.verdict == "OK", result.summary["reasons"]
    overall = result.input_drift[result.input_drift["segment"] == "all"]
    assert overall["psi"].max() < 0.1
    assert result.forecast_drift.empty and result.accuracy.empty
    assert result.summary["run_id"] is None


def test_injected_level_drift_is_flagged(empty_store: ResultStore) -> None:
    result = compute_drift(_stationary(recent_factor=2.5), empty_store, volatility=False)
    assert result.verdict == "ACT"
    total = result.demand_drift.set_index("segment").loc["all"]
    assert total["level_ratio"] == pytest.approx(2.5, rel=0.15) and total["level_pvalue"] < 1e-6
    inputs = result.input_drift
    demand = inputs[(inputs["feature"] == "demand") & (inputs["segment"] == "all")]
    demand_psi = float(demand["psi"].iloc[0])
    assert demand_psi > 0.25
    assert any("Demand level of all" in r for r in result.summary["reasons"])
    assert any("Feature 'demand' shifted" in r for r in result.summary["reasons"])


def test_thresholds_decide_the_verdict(empty_store: ResultStore) -> None:
    data = _stationary(recent_factor=1.35)
    lenient = DriftThresholds(psi_watch=5.0, psi_act=5.0, segment_psi_act=5.0, level_watch=1.0,
                              level_act=2.0, cv_watch=5.0)
    assert compute_drift(data, empty_store, volatility=False, thresholds=lenient).verdict == "OK"
    assert compute_drift(data, empty_store, volatility=False).verdict in ("WATCH", "ACT")


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("reference_days", 3,
         "The 'reference_days' of compute_drift must be a whole number of days >= 14. Got 3."),
        ("recent_days", 2.5,
         "The 'recent_days' of compute_drift must be a whole number of days >= 7. Got 2.5."),
        ("bins", 1, "The 'bins' of compute_drift must be a whole number of bins in 2..100. Got 1."),
        ("seed", -1, "The 'seed' of compute_drift must be a whole number >= 0. Got -1."),
    ],
)
def test_compute_drift_checks_parameters(empty_store: ResultStore, param: str, value: Any,
                                         message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        compute_drift(_stationary(n_series=3, n_days=60), empty_store, **{param: value})


def test_compute_drift_needs_history_for_both_windows(empty_store: ResultStore) -> None:
    with pytest.raises(ValueError, match=r"has 60 days but reference_days=91 \+ recent_days=28 need 119"):
        compute_drift(_stationary(n_series=3, n_days=60), empty_store)


# --- forecast drift ---------------------------------------------------------------------------------


def test_relative_change_from_zero() -> None:
    out = relative_change(np.array([2.0, 0.0, 0.0, 4.0]), np.array([3.0, 0.0, 5.0, 2.0]))
    assert out.tolist() == [0.5, 0.0, 1.0, -0.5]


def test_compare_forecasts_on_overlapping_days_only() -> None:
    days = pd.date_range("2024-03-01", periods=10)
    prev = pd.DataFrame({"sku": np.repeat(["a", "b"], 10), "channel": "web", "date": np.tile(days, 2),
                         "mean": 1.0})
    cur = prev.copy()
    cur["date"] = cur["date"] + pd.Timedelta(days=3)  # 7 days overlap
    cur.loc[cur["sku"] == "b", "mean"] = 1.5
    labels = pd.DataFrame({"sku": ["a"], "channel": ["web"], "segment": ["A-X"]})
    by_segment, movers = compare_forecasts(prev, cur, labels, moved_change=0.2)
    total = by_segment.set_index("segment").loc["all"]
    assert total["n_series"] == 2
    assert total["mean_abs_rel_change"] == pytest.approx(0.25)
    assert total["share_moved"] == pytest.approx(0.5)
    assert movers.iloc[0]["sku"] == "b" and movers.iloc[0]["previous_total"] == pytest.approx(7.0)
    assert set(by_segment["segment"]) == {"all", "A-X", "new"}


# --- realized accuracy on a hand-computable case ---------------------------------------------------


def test_realized_accuracy_hand_computed() -> None:
    history_days = pd.date_range("2023-12-04", periods=28)  # ends on Sunday 2023-12-31
    week = pd.date_range("2024-01-01", periods=7)  # Monday to Sunday: one ISO week
    actual = [2, 2, 2, 2, 2, 2, 10]
    sales = pd.DataFrame({
        "date": [*history_days, *week], "sku": "s", "channel": "web",
        "units": [0.0, 2.0] * 14 + actual,
    })
    data = build_dataset({"sales": sales})
    forecast = pd.DataFrame({"sku": "s", "channel": "web", "date": week, "mean": 2.0,
                             "0.25": 1.0, "0.5": 2.0, "0.75": 3.0})
    labels = pd.DataFrame({"sku": ["s"], "channel": ["web"], "segment": ["A-X"]})
    scored = score_forecast(forecast, data, labels, (0.25, 0.5, 0.75))
    assert set(scored["segment"]) == {"all", "A-X"}
    row = scored[scored["segment"] == "A-X"].iloc[0]
    # Scale: mean absolute day-to-day change after the first sale = 2.
    # Pinball per day: y=2 -> (0.25*1 + 0 + 0.25*1)/3; y=10 -> (0.25*9 + 0.5*8 + 0.75*7)/3.
    expected_spl = (6 * (0.5 / 3) + (2.25 + 4.0 + 5.25) / 3) / 7 / 2
    assert row["mean_spl"] == pytest.approx(expected_spl)
    assert row["coverage_50"] == pytest.approx(6 / 7)
    assert row["bias"] == pytest.approx((sum(2.0 - y for y in actual) / 7) / (sum(actual) / 7))
    assert row["n_days"] == 7 and pd.Timestamp(row["week"]) == pd.Timestamp("2024-01-01")
    future = forecast.assign(date=forecast["date"] + pd.Timedelta(days=30))
    assert score_forecast(future, data, labels, (0.25, 0.5, 0.75)).empty


# --- fast forecast reads, on SQLite and PostgreSQL ---------------------------------------------------


def test_read_forecasts_matches_the_store(store: ResultStore) -> None:
    days = pd.date_range("2024-05-01", periods=5)
    forecast = pd.DataFrame({"sku": np.repeat(["a", "b's"], 5), "channel": "web", "date": np.tile(days, 2),
                             "mean": np.arange(10.0)})
    for i, q in enumerate((0.05, 0.5, 0.95)):
        forecast[str(q)] = forecast["mean"] * (0.5 + 0.5 * i)
    run_id = store.create_run("test", {})
    store.publish_run(run_id, forecasts=forecast, horizon=5, quantiles=(0.05, 0.5, 0.95))
    run = store.get_run(run_id)
    expected = store.get_forecasts(run_id).drop(columns="model")
    got = read_forecasts(store, run).sort_values(["sku", "channel", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    until = read_forecasts(store, run, until=days[1], with_quantiles=False)
    assert len(until) == 4 and list(until.columns) == ["sku", "channel", "date", "mean"]


# --- real data: a slice of m5-tiny ----------------------------------------------------------------


def test_injected_drift_on_real_m5_sales(m5_tiny_dir: Path, empty_store: ResultStore) -> None:
    sales = import_m5(m5_tiny_dir)["sales"]
    end = sales["date"].max()
    sales = sales[sales["date"] > end - pd.Timedelta(days=300)].reset_index(drop=True)
    recent = sales["date"] > end - pd.Timedelta(days=28)
    base = compute_drift(build_dataset({"sales": sales}), empty_store, volatility=False)
    boosted = sales.assign(units=np.where(recent, sales["units"] * 3, sales["units"]))
    drifted = compute_drift(build_dataset({"sales": boosted}), empty_store, volatility=False)

    def level(result: Any) -> float:
        return float(result.demand_drift.set_index("segment").loc["all", "level_ratio"])

    assert level(drifted) == pytest.approx(3 * level(base), rel=0.02)
    assert drifted.verdict == "ACT"
    assert base.summary["n_series"] == drifted.summary["n_series"] == 280
    def demand_psi(result: Any) -> float:
        rows = result.input_drift
        return float(rows.loc[(rows["feature"] == "demand") & (rows["segment"] == "all"), "psi"].iloc[0])

    assert demand_psi(drifted) > 0.25 > demand_psi(base)
