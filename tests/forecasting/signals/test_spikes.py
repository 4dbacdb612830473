"""Known-answer tests of seasonal spike detection on constructed series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from features.schema import quantile_column
from forecasting.signals.spikes import SPIKE_COLUMNS, detect_spikes

START = pd.Timestamp("2022-01-03")


def _sales(series: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    frames = []
    for (sku, channel), units in series.items():
        frames.append(pd.DataFrame({
            "date": START + pd.to_timedelta(np.arange(units.size), unit="D"), "sku": sku, "channel": channel,
            "units": units.astype(float), "censored": False,
        }))
    return pd.concat(frames, ignore_index=True)


def _yearly_spike(rng: np.random.Generator, n_days: int, base: float, day_of_year: int, length: int,
                  uplift: float) -> np.ndarray:
    rate = np.full(n_days, base)
    for year_start in range(0, n_days, 364):
        lo = year_start + day_of_year
        rate[lo:lo + length] *= uplift
    return rng.poisson(rate)


@pytest.fixture
def two_years_then_origin() -> tuple[Dataset, pd.Timestamp]:
    """Two years and 300 days: the third year's spike (day 360..369) is 60 days after the origin."""
    rng = np.random.default_rng(1)
    n = 2 * 364 + 300
    spiky = _yearly_spike(rng, n, 6.0, 360, 10, 3.0)
    flat = rng.poisson(6.0, n)
    quiet = rng.poisson(0.05, n)
    data = Dataset(sales=_sales({("S1", "web"): spiky, ("S2", "web"): flat, ("S3", "web"): quiet}))
    return data, START + pd.Timedelta(days=2 * 364 + 360)


def test_yearly_spike_is_found_from_last_year_beyond_the_forecast_horizon(two_years_then_origin):
    data, true_start = two_years_then_origin
    spikes = detect_spikes(data, horizon_days=91)
    assert list(spikes.columns) == SPIKE_COLUMNS
    found = spikes[spikes["sku"] == "S1"]
    assert len(found) == 1
    row = found.iloc[0]
    assert (row["start"] - data.end_date).days >= 14
    assert abs((row["start"] - true_start).days) <= 3
    assert abs((row["end"] - (true_start + pd.Timedelta(days=9))).days) <= 3
    assert 2.0 <= row["uplift"] <= 4.0
    assert "yoy" in row["source"]
    assert 0.5 < row["confidence"] <= 1.0


def test_flat_and_near_dead_series_raise_no_spike(two_years_then_origin):
    data, _ = two_years_then_origin
    spikes = detect_spikes(data, horizon_days=91)
    assert set(spikes["sku"]) <= {"S1"}


def test_a_one_off_burst_last_year_is_not_a_season():
    rng = np.random.default_rng(6)
    n = 2 * 364 + 300
    units = rng.poisson(6.0, n).astype(float)
    # A single bulk order inside last year's window: big in units, but one day, not a season.
    units[364 + 300 + 40] += 400
    data = Dataset(sales=_sales({("S1", "web"): units}))
    assert detect_spikes(data, horizon_days=91).empty


def test_sparse_series_needs_more_orders_not_one_big_order():
    rng = np.random.default_rng(7)
    n = 2 * 364 + 300
    orders = rng.random(n) < 0.05
    seasonal = orders.copy()
    window = slice(364 + 300 + 30, 364 + 300 + 80)
    seasonal[window] = rng.random(50) < 0.5
    lumpy_season = np.where(seasonal, rng.poisson(20.0, n), 0)
    one_order = np.where(orders, rng.poisson(20.0, n), 0)
    one_order[364 + 300 + 50] = 300
    data = Dataset(sales=_sales({("SEASON", "b2b"): lumpy_season, ("BURST", "b2b"): one_order}))
    assert detect_spikes(data, horizon_days=91)["sku"].tolist() == ["SEASON"]


def test_a_sparse_channel_inherits_the_season_of_its_skus_steady_channel():
    rng = np.random.default_rng(8)
    n = 2 * 364 + 300
    shop = _yearly_spike(rng, n, 8.0, 360, 30, 4.0)
    rate = np.full(n, 0.04)
    rate[360:390] *= 4.0
    rate[724:754] *= 4.0
    bulk = np.where(rng.random(n) < rate, rng.poisson(30.0, n), 0)
    bulk[-30:] = np.where(np.arange(30) % 9 == 0, 30, 0)  # still ordering today
    plain = np.where(rng.random(n) < 0.04, rng.poisson(30.0, n), 0)
    plain[-30:] = bulk[-30:]
    data = Dataset(sales=_sales({("GIFT", "shop"): shop, ("GIFT", "b2b"): bulk, ("PLAIN", "shop"):
                                 rng.poisson(8.0, n), ("PLAIN", "b2b"): plain}))
    spikes = detect_spikes(data, horizon_days=91)
    found = set(zip(spikes["sku"], spikes["channel"], spikes["source"], strict=True))
    assert ("GIFT", "shop", "yoy") in found
    assert ("GIFT", "b2b", "yoy_sku") in found or ("GIFT", "b2b", "yoy+yoy_sku") in found
    assert not any(sku == "PLAIN" for sku, _, _ in found)


def test_small_uplift_is_not_a_spike():
    rng = np.random.default_rng(2)
    n = 2 * 364 + 300
    mild = _yearly_spike(rng, n, 6.0, 360, 10, 1.4)
    data = Dataset(sales=_sales({("S1", "web"): mild}))
    assert detect_spikes(data, horizon_days=91).empty


def test_forecast_peak_is_a_spike_with_probability_from_quantiles():
    rng = np.random.default_rng(3)
    units = rng.poisson(4.0, 120)
    data = Dataset(sales=_sales({("S1", "web"): units}))
    dates = data.end_date + pd.to_timedelta(np.arange(1, 29), unit="D")
    mean = np.full(28, 4.0)
    mean[10:15] = 12.0
    forecast = pd.DataFrame({"sku": "S1", "channel": "web", "date": dates, "mean": mean,
                             quantile_column(0.1): mean * 0.6, quantile_column(0.5): mean,
                             quantile_column(0.9): mean * 1.4})
    spikes = detect_spikes(data, forecast, horizon_days=28)
    assert len(spikes) == 1
    row = spikes.iloc[0]
    assert row["source"] == "forecast"
    assert row["start"] == dates[10] and row["end"] == dates[14]
    # The baseline is the mean weekly rate of the last eight weeks without the busiest one.
    weekly = units[-56:].reshape(8, 7).mean(axis=1)
    assert row["uplift"] == pytest.approx(12.0 / ((weekly.sum() - weekly.max()) / 7), rel=0.01)
    # Twice the baseline (~8) lies between the 10% (7.2) and 50% (12) quantiles of the peak day.
    assert 0.5 <= row["confidence"] <= 0.9


def test_known_event_with_past_uplift_is_a_spike_and_merges_with_overlapping_evidence():
    rng = np.random.default_rng(4)
    n = 400
    units = rng.poisson(5.0, n).astype(float)
    event_days = [100, 250]
    for day in event_days:
        units[day] = rng.poisson(25.0)
    data = Dataset(
        sales=_sales({("S1", "web"): units, ("S2", "web"): rng.poisson(5.0, n)}),
        events=pd.DataFrame({
            "date": [START + pd.Timedelta(days=d) for d in [*event_days, n + 20]],
            "event": "MegaSale", "channel": None,
        }),
        promotions=pd.DataFrame({
            "sku": ["S2"], "channel": ["web"], "start": [START + pd.Timedelta(days=n + 5)],
            "end": [START + pd.Timedelta(days=n + 8)], "expected_uplift": [2.5],
        }),
    )
    spikes = detect_spikes(data, horizon_days=60).set_index("sku")
    assert set(spikes.index) == {"S1", "S2"}
    assert spikes.loc["S1", "source"] == "event"
    assert spikes.loc["S1", "start"] == START + pd.Timedelta(days=n + 20)
    assert spikes.loc["S1", "uplift"] > 3.0
    assert spikes.loc["S2", "source"] == "promotion"
    assert spikes.loc["S2", "uplift"] == 2.5


def test_censored_days_are_not_read_as_a_dip_or_a_peak():
    rng = np.random.default_rng(5)
    n = 2 * 364 + 300
    units = rng.poisson(6.0, n).astype(float)
    sales = _sales({("S1", "web"): units})
    # A stockout a year before the horizon: zero sales there must not turn into a low baseline.
    stockout = (sales.index >= 364 + 250) & (sales.index < 364 + 300)
    sales.loc[stockout, "units"] = 0.0
    sales.loc[stockout, "censored"] = True
    assert detect_spikes(Dataset(sales=sales), horizon_days=91).empty


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("min_uplift", 1.0, "'min_uplift' of detect_spikes must be a ratio > 1"),
        ("horizon_days", 0, "'horizon_days' of detect_spikes must be a whole number of days in 1..300"),
        ("baseline_days", 30, "'baseline_days' of detect_spikes must be a whole number of weeks"),
        ("window_days", 6, "'window_days' of detect_spikes must be an odd number"),
        ("alpha", 1.5, "'alpha' of detect_spikes must be a significance level"),
    ],
)
def test_bad_parameters_are_named(two_years_then_origin, param, value, match):
    data, _ = two_years_then_origin
    with pytest.raises(ValueError, match=match):
        detect_spikes(data, **{param: value})


def test_forecast_without_mean_is_rejected(two_years_then_origin):
    data, _ = two_years_then_origin
    with pytest.raises(ValueError, match=r"forecast lacks the column\(s\) \['mean'\]"):
        detect_spikes(data, pd.DataFrame({"sku": ["S1"], "channel": ["web"], "date": [data.end_date]}))


def test_run_helpers_find_join_and_bridge_windows():
    from forecasting.signals.matrix import bridge_unknown, close_gaps, runs

    mask = np.array([[1, 1, 0, 0, 1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=bool)
    rows, starts, ends = runs(mask)
    assert rows.tolist() == [0, 0, 0] and starts.tolist() == [0, 4, 9] and ends.tolist() == [2, 5, 10]
    rows, starts, ends = close_gaps(rows, starts, ends, 2)
    assert starts.tolist() == [0, 9] and ends.tolist() == [5, 10]
    high = np.array([[0, 1, 1, 0, 0, 1, 1, 0]], dtype=bool)
    unknown = np.array([[1, 0, 0, 1, 1, 0, 0, 1]], dtype=bool)
    # Unknown days between two high stretches are bridged; unknown edges are trimmed off.
    rows, starts, ends = bridge_unknown(high, unknown)
    assert starts.tolist() == [1] and ends.tolist() == [7]


def test_real_m5_slice_raises_few_spikes_before_christmas(m5_tiny_dir):
    from features.importers import import_m5
    from features.validation import build_dataset

    tables = import_m5(m5_tiny_dir)
    items = sorted(tables["sales"]["sku"].unique())[:8]
    tables["sales"] = tables["sales"][tables["sales"]["sku"].isin(items)]
    data = build_dataset(tables).truncate("2015-11-01")
    spikes = detect_spikes(data, horizon_days=91)
    # Grocery demand has no doubling season: a handful of event days at most, all inside the horizon.
    assert spikes[["sku", "channel"]].drop_duplicates().shape[0] <= 0.1 * len(data.series())
    assert (spikes["start"] > data.end_date).all()
    assert (spikes["end"] <= data.end_date + pd.Timedelta(days=91)).all()


def test_a_strong_weekday_in_the_forecast_is_weekly_seasonality_not_a_spike():
    rng = np.random.default_rng(4)
    weekday_factor = np.array([0.8, 0.8, 0.8, 0.8, 0.8, 3.0, 1.0])  # Saturdays sell 3x a weekday
    units = rng.poisson(4.0 * np.tile(weekday_factor, 20))
    data = Dataset(sales=_sales({("S1", "web"): units}))
    dates = data.end_date + pd.to_timedelta(np.arange(1, 29), unit="D")
    mean = 4.0 * weekday_factor[(np.arange(140, 168)) % 7]
    forecast = pd.DataFrame({"sku": "S1", "channel": "web", "date": dates, "mean": mean,
                             quantile_column(0.5): mean, quantile_column(0.9): mean * 1.4})

    spikes = detect_spikes(data, forecast, horizon_days=28)

    assert spikes[spikes["source"] == "forecast"].empty


def test_forecast_peaks_all_below_min_units_raise_no_spike_and_no_error():
    # A slow mover whose forecast doubles for two days: a run of high ratio, but far too few units to
    # count, so every candidate is dropped (argmax over no runs used to raise a numpy reduction error).
    rng = np.random.default_rng(4)
    units = rng.poisson(0.3, 120)
    units[-56:] = np.tile([0, 0, 1, 0, 0, 0, 1], 8)
    data = Dataset(sales=_sales({("S1", "web"): units}))
    dates = data.end_date + pd.to_timedelta(np.arange(1, 29), unit="D")
    mean = np.full(28, 0.3)
    mean[5:7] = 1.2
    forecast = pd.DataFrame({"sku": "S1", "channel": "web", "date": dates, "mean": mean})
    assert detect_spikes(data, forecast, horizon_days=28).empty


def test_argmax_in_runs_of_no_runs_is_empty():
    from forecasting.signals.matrix import argmax_in_runs

    empty = np.array([], dtype=int)
    out = argmax_in_runs(np.ones((2, 5)), empty, empty, empty)
    assert out.shape == (0,) and out.dtype.kind == "i"
