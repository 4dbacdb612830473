"""Inferred stockout runs: which zero runs are censored, leak-free truncation, refusals, health report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.health import format_health_report, health_report
from features.stockouts import StockoutInference
from features.validation import build_dataset


def _sales(with_in_stock: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=200, freq="D")
    busy = rng.poisson(10, 200).astype(float)
    busy[100:120] = 0.0  # 20 days without a sale in a series that sells ten a day: a stockout
    slow = rng.poisson(0.2, 200).astype(float)
    slow[100:120] = 0.0  # the same gap is ordinary for a series that sells one every five days
    slow[120] = 1.0
    ending = rng.poisson(10, 200).astype(float)
    ending[170:] = 0.0  # a run still going at the end: maybe a delisting, not known to have ended
    frames = [pd.DataFrame({"sku": sku, "channel": "web", "date": dates, "units": units})
              for sku, units in (("busy", busy), ("slow", slow), ("ending", ending))]
    sales = pd.concat(frames, ignore_index=True)
    if with_in_stock:
        sales["in_stock"] = 1
    return sales


def test_improbable_ended_zero_runs_are_censored_and_listed() -> None:
    data = build_dataset({"sales": _sales()}, stockouts=StockoutInference())
    runs = data.stockout_runs
    assert runs is not None
    assert runs[["sku", "days"]].values.tolist() == [["busy", 20]]
    assert runs["start"].iloc[0] == pd.Timestamp("2024-04-10") and runs["probability"].iloc[0] < 1e-3
    censored = data.sales[data.sales["censored"]]
    assert set(censored["sku"]) == {"busy"} and len(censored) == 20
    report = health_report(data)
    assert report["inferred_stockout_days"] == 20 and report["censored_rows"] == 20
    text = format_health_report(report)
    assert "inferred stockout runs (days)" in text and "busy/web 2024-04-10 .. 2024-04-29 (20 days" in text


def test_inference_is_off_without_settings_or_with_stock_flags() -> None:
    assert build_dataset({"sales": _sales()}).stockout_runs is None
    flagged = build_dataset({"sales": _sales(with_in_stock=True)}, stockouts=StockoutInference())
    assert flagged.stockout_runs is None and not flagged.sales["censored"].any()
    assert "off (or in_stock given)" in format_health_report(health_report(flagged))


def test_truncate_does_not_know_a_run_before_it_ended() -> None:
    data = build_dataset({"sales": _sales()}, stockouts=StockoutInference())
    during = data.truncate(pd.Timestamp("2024-04-20"))  # inside the run: not known to end
    assert not during.sales["censored"].any() and during.stockout_runs is not None
    assert during.stockout_runs.empty
    after = data.truncate(pd.Timestamp("2024-05-15"))
    assert int(after.sales["censored"].sum()) == 20


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5, 2])
def test_threshold_outside_zero_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match=r"stockout threshold must be a probability in \(0, 1\)"):
        StockoutInference(threshold=threshold)


def test_a_series_it_would_mostly_censor_keeps_its_zeros_with_a_warning() -> None:
    sales = _sales()
    days = sales["sku"] == "busy"
    units = sales.loc[days, "units"].to_numpy()
    units[60:190] = 0.0
    sales.loc[days, "units"] = units
    data = build_dataset({"sales": sales}, stockouts=StockoutInference())
    assert not data.sales["censored"].any() and data.stockout_runs is not None and data.stockout_runs.empty
    assert any("would censor more than 50% of the days of 1 series (e.g. busy/web 65%)" in w
               for w in data.warnings)
