"""The weekly job's closed loop: earlier published grids scored on the demand that followed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from forecasting.inventory.ltd_feedback import grid_pit, score_published, service_metrics

LEVELS = [0.5, 0.8, 0.9, 0.97, 0.99]


def _data(days: int = 120, n: int = 40, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-01", periods=days)
    sales = pd.concat([pd.DataFrame({"date": dates, "sku": f"s{i}", "channel": "web",
                                     "units": rng.poisson(5.0, days).astype(float), "censored": False})
                       for i in range(n)], ignore_index=True)
    return Dataset(sales=sales)


def _published(n: int, quantiles: list[float], klass: str = "A") -> pd.DataFrame:
    return pd.DataFrame({
        "sku": [f"s{i}" for i in range(n)], "channel": "web", "policy": "SAFETY_STOCK", "abc": klass,
        "pattern": "smooth", "service_level": 0.9, "reorder_point": quantiles[2], "lead_time_mean": 3.0,
        "ltd_levels": [LEVELS] * n, "ltd_quantiles": [quantiles] * n,
    })


def test_grid_pit_reads_the_grid_and_its_tails() -> None:
    q = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert grid_pit(LEVELS, q, 25.0) == pytest.approx(0.85)
    assert grid_pit(LEVELS, q, 5.0) == pytest.approx(0.25)
    assert grid_pit(LEVELS, q, 60.0) == pytest.approx(0.995)
    assert grid_pit(LEVELS, [0.0, 0.0, 0.0, 2.0, 3.0], 0.0) == pytest.approx((0.5 + 0.8 + 0.9) / 3)


def test_too_narrow_published_grids_raise_the_planned_level_and_report_the_realized_service() -> None:
    data = _data()
    # Demand over 3 + 7 = 10 days is Poisson(50): sd ~7. A grid claiming the 0.9 quantile at 51 is far
    # too narrow (the true 0.9 quantile is ~59), so realized totals often exceed it.
    narrow = [50.0, 50.6, 51.0, 51.6, 52.0]
    history = [(pd.Timestamp("2025-02-01"), _published(40, narrow)),
               (pd.Timestamp("2025-03-01"), _published(40, narrow)),
               (data.end_date - pd.Timedelta(days=5), _published(40, narrow))]  # not due yet
    calibration, summary = score_published(history, data, review_days=7, prior_weight=0.0)
    assert sum(len(v) for v in calibration.pits.values()) == 80
    row = summary.set_index("class").loc["A"]
    assert row["n"] == 80 and row["target"] == 0.9 and row["realized"] < 0.75
    level = calibration.levels(np.array(["smooth/short"], dtype=object), np.array([0.9]))[0]
    assert level > 0.97
    metrics = service_metrics(summary)
    assert metrics["ltd_target_A"] == 0.9 and metrics["ltd_n_A"] == 80


def test_runs_without_grids_are_skipped() -> None:
    data = _data()
    frame = _published(5, [1.0, 2.0, 3.0, 4.0, 5.0]).drop(columns=["ltd_levels"])
    calibration, summary = score_published([(pd.Timestamp("2025-02-01"), frame)], data, review_days=7)
    assert calibration.pits == {} and summary.empty
