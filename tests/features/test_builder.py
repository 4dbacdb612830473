"""Tests of the feature specs and the one feature builder (leakage, censoring, optional inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.builder import FeatureBuilder, demand_matrix
from features.dataset import Dataset
from features.specs import (
    EWM,
    Calendar,
    Events,
    Intermittency,
    Lags,
    Price,
    RollingOnLag,
    SameWeekday,
    Static,
)


def _sales(n_days: int = 150, seed: int = 0, with_price: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n_days, freq="D")
    parts = []
    for sku, channel, level, start in [("a", "web", 10.0, 0), ("a", "shop", 3.0, 0), ("b", "web", 0.4, 40)]:
        days = dates[start:]
        frame = pd.DataFrame({"sku": sku, "channel": channel, "date": days,
                              "units": rng.poisson(level, len(days)).astype(float), "censored": False})
        if with_price:
            frame["price"] = np.where(np.arange(len(days)) % 30 < 5, 8.0, 10.0)
        parts.append(frame)
    return pd.concat(parts).sort_values(["sku", "channel", "date"]).reset_index(drop=True)


def _dataset(sales: pd.DataFrame, **tables) -> Dataset:
    return Dataset(sales=sales, **tables)


def _events(end: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"date": [end - pd.Timedelta(days=40), end + pd.Timedelta(days=5)],
                         "event": ["spring_sale", "summer_sale"], "channel": ["", "web"]})


def _promotions(end: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"sku": ["a"], "channel": ["web"], "start": [end + pd.Timedelta(days=2)],
                         "end": [end + pd.Timedelta(days=4)], "expected_uplift": [0.5]})


def _features(builder: FeatureBuilder, data: Dataset, dates) -> pd.DataFrame:
    frame = builder.transform(data, dates)
    return frame.drop(columns="target").set_index(["sku", "channel", "date"]).sort_index()


def test_features_at_t_ignore_rows_after_t_and_changes_after_t_minus_min_lag():
    sales = _sales()
    end = sales["date"].max()
    full = _dataset(sales, events=_events(end), promotions=_promotions(end))
    builder = FeatureBuilder(min_lag=14).fit(full)
    t = end - pd.Timedelta(days=20)
    dates = pd.date_range(t - pd.Timedelta(days=6), t)
    reference = _features(builder, full, dates)

    cut = _dataset(sales[sales["date"] <= t].reset_index(drop=True), events=_events(end),
                   promotions=_promotions(end))
    pd.testing.assert_frame_equal(_features(builder, cut, dates), reference)

    # Demand (and stockout flags) after t - min_lag may change freely: no feature of t may move.
    changed = sales.copy()
    late = changed["date"] > t - pd.Timedelta(days=14)
    changed.loc[late, "units"] = changed.loc[late, "units"] * 7 + 3
    changed.loc[late & (changed["date"].dt.day % 3 == 0), "censored"] = True
    moved = _features(builder, _dataset(changed, events=_events(end), promotions=_promotions(end)), [t])
    pd.testing.assert_frame_equal(moved, reference.xs(t, level="date", drop_level=False))
    assert not reference.filter(like="lag").isna().all().all()  # the comparison covered real values


def test_horizon_aware_rows_see_demand_up_to_their_origin_only():
    sales = _sales()
    end = sales["date"].max()
    data = _dataset(sales, events=_events(end), promotions=_promotions(end))
    builder = FeatureBuilder(min_lag=28, horizon_aware=True).fit(data)
    assert "horizon" in builder.feature_names_ and "ewm_0.2_origin" in builder.feature_names_
    origin = end - pd.Timedelta(days=30)
    dates = pd.date_range(origin + pd.Timedelta(days=1), periods=28)
    reference = builder.transform(data, dates, origin=origin)
    assert reference["horizon"].tolist() == list(range(1, 29)) * 3
    # lag_7 is known one week ahead only; lag_28 for every horizon.
    assert reference.loc[reference["horizon"] > 7, "lag_7"].isna().all()
    assert reference.loc[reference["horizon"] <= 7, "lag_7"].notna().all()
    assert reference["lag_28"].notna().all()

    changed = sales.copy()
    late = changed["date"] > origin
    changed.loc[late, "units"] = changed.loc[late, "units"] * 5 + 1
    changed.loc[late & (changed["date"].dt.day % 2 == 0), "censored"] = True
    moved = builder.transform(_dataset(changed, events=_events(end), promotions=_promotions(end)), dates,
                              origin=origin)
    features = builder.feature_names_
    pd.testing.assert_frame_equal(moved[features], reference[features])

    future = builder.transform(data, pd.date_range(end + pd.Timedelta(days=1), periods=28))
    assert future["horizon"].tolist() == list(range(1, 29)) * 3  # counted from the last sales date
    train = builder.transform(data, pd.date_range(end - pd.Timedelta(days=59), end), observed_only=True,
                              rng=np.random.default_rng(0))
    assert train["horizon"].between(1, 28).all() and train["horizon"].nunique() > 20
    with pytest.raises(ValueError, match="'rng' is required for horizon-aware rows"):
        builder.transform(data, [end])
    with pytest.raises(ValueError, match=r"every date must be 1\.\.28 days after it\. Got gaps 1\.\.40"):
        builder.transform(data, pd.date_range(origin + pd.Timedelta(days=1), periods=40), origin=origin)


def test_censored_days_are_missing_not_zero():
    sales = _sales(with_price=False)
    end = sales["date"].max()
    day = end - pd.Timedelta(days=30)
    stockout = (sales["sku"] == "a") & (sales["channel"] == "web") & (sales["date"] == day)
    sales.loc[stockout, ["units", "censored"]] = [0.0, True]
    data = _dataset(sales)
    specs = [Lags(lags=(28,)), RollingOnLag(windows=(1,), stats=("mean",))]
    builder = FeatureBuilder(specs, min_lag=28).fit(data)
    frame = builder.transform(data, [end - pd.Timedelta(days=30), end - pd.Timedelta(days=2)])
    row = frame[(frame["sku"] == "a") & (frame["channel"] == "web")]
    assert np.isnan(row["target"].iloc[0])  # a stockout day never becomes a training target
    assert np.isnan(row["lag_28"].iloc[1]) and np.isnan(row["roll_mean_1_lag28"].iloc[1])
    _, matrix = demand_matrix(data)
    assert np.isnan(matrix).sum() == 40 + 1  # b's 40 days before launch + the stockout


def test_future_dates_get_known_covariates_and_training_rows_are_observed_only():
    sales = _sales()
    end = sales["date"].max()
    data = _dataset(sales, events=_events(end), promotions=_promotions(end))
    builder = FeatureBuilder(min_lag=28).fit(data)
    future = builder.transform(data, pd.date_range(end + pd.Timedelta(days=1), periods=28))
    assert len(future) == 3 * 28 and future["target"].isna().all()
    assert future["lag_28"].notna().all()  # every horizon sees demand up to the origin
    web = future[(future["sku"] == "a") & (future["channel"] == "web")].set_index("date")
    assert web.loc[end + pd.Timedelta(days=3), "promo"] == 1.0
    assert web.loc[end + pd.Timedelta(days=3), "promo_uplift"] == pytest.approx(0.5)
    assert web.loc[end + pd.Timedelta(days=10), "promo"] == 0.0
    assert web.loc[end + pd.Timedelta(days=1), "event_next"] == "summer_sale"
    assert web.loc[end + pd.Timedelta(days=1), "event_days_to"] == 4.0
    shop = future[(future["sku"] == "a") & (future["channel"] == "shop")]
    assert shop["event_next"].isna().all()  # the summer sale is web-only
    assert future["price_rel"].notna().all()  # the last price is carried forward

    train = builder.transform(data, pd.date_range(end - pd.Timedelta(days=99), end), observed_only=True,
                              max_rows=100, rng=np.random.default_rng(0))
    assert len(train) == 100 and train["target"].notna().all()
    subset = builder.transform(data, [end], series=np.array([2]))
    assert subset[["sku", "channel"]].to_numpy().tolist() == [["b", "web"]]


@pytest.mark.parametrize("horizon_aware", [False, True])
@pytest.mark.parametrize("chosen", [[2], [0, 2]])
def test_features_of_some_series_equal_their_rows_of_all_series(horizon_aware: bool, chosen: list[int]):
    sales = _sales()
    sales.loc[sales.index[::7], "promo"] = 1.0  # a promo column on the sales rows, read per series
    end = sales["date"].max()
    data = _dataset(sales, events=_events(end), promotions=_promotions(end))
    builder = FeatureBuilder(min_lag=28, horizon_aware=horizon_aware).fit(data)
    origin = end - pd.Timedelta(days=28)
    dates = pd.date_range(origin + pd.Timedelta(days=1), end)
    every = builder.transform(data, dates, origin=origin)
    some = builder.transform(data, dates, origin=origin, series=np.array(chosen))
    keys = data.series().iloc[chosen]
    expected = every.merge(keys, on=["sku", "channel"]).reset_index(drop=True)
    assert len(some) == 28 * len(chosen) and some[["price_rel", "promo", "lag_28"]].notna().any().all()
    pd.testing.assert_frame_equal(some, expected)


def test_works_with_sales_only_and_unknown_categories_become_missing():
    sales = _sales(with_price=False)
    data = _dataset(sales)
    builder = FeatureBuilder().fit(data)
    assert not any(n.startswith(("price", "promo", "event")) for n in builder.feature_names_)
    assert set(builder.categorical_features_) == {"static_sku", "static_channel"}
    newcomer = sales[sales["sku"] == "b"].assign(sku="c")
    frame = builder.transform(_dataset(pd.concat([sales, newcomer]).reset_index(drop=True)),
                              [sales["date"].max()])
    assert frame.loc[frame["static_sku"].isna(), "sku"].tolist() == ["c"]
    assert list(frame["static_sku"].cat.categories) == ["a", "b"]
    assert frame["sku"].dtype == object  # the key column itself stays a plain string


def test_static_master_data_and_calendar_values():
    sales = _sales(with_price=False)
    skus = pd.DataFrame({"sku": ["a", "b"], "unit_cost": [1.0, 2.0], "unit_price": [2.0, 3.0],
                         "category": ["toys", "garden"]})
    data = _dataset(sales, skus=skus)
    builder = FeatureBuilder([Static(), Calendar(fields=("dayofweek", "month"))]).fit(data)
    frame = builder.transform(data, [pd.Timestamp("2024-03-04")])  # a Monday
    assert dict(zip(frame["sku"], frame["static_category"].astype(str), strict=True)) == {
        "a": "toys", "b": "garden"}
    assert (frame["cal_dayofweek"] == 0).all() and (frame["cal_month"] == 3).all()


def test_demand_matrix_does_not_depend_on_row_order():
    sales = _sales()
    keys, ordered = demand_matrix(_dataset(sales))
    shuffled = sales.sample(frac=1.0, random_state=0).reset_index(drop=True)
    keys_shuffled, values = demand_matrix(_dataset(shuffled))
    pd.testing.assert_frame_equal(keys_shuffled, keys)
    np.testing.assert_array_equal(values, ordered)


def test_vectorised_builder_handles_many_series_quickly():
    n_series, n_days = 3000, 400
    rng = np.random.default_rng(0)
    dates = pd.date_range("2023-01-01", periods=n_days, freq="D")
    sales = pd.DataFrame({"sku": np.repeat([f"s{i:05d}" for i in range(n_series)], n_days), "channel": "web",
                          "date": np.tile(dates, n_series), "units": rng.poisson(2.0, n_series * n_days),
                          "censored": False})
    data = _dataset(sales)
    builder = FeatureBuilder().fit(data)
    started = pd.Timestamp.now()
    frame = builder.transform(data, dates[-120:], observed_only=True)
    elapsed = (pd.Timestamp.now() - started).total_seconds()
    assert len(frame) == n_series * 120
    assert elapsed < 15  # 1.2 M cells (~2 s); per-series Python loops would take minutes


def test_same_weekday_profile_sees_the_weekly_shape():
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    units = np.where(dates.dayofweek == 5, 14.0, 2.0)  # Saturdays sell 7x a weekday
    data = _dataset(pd.DataFrame({"sku": "a", "channel": "web", "date": dates, "units": units,
                                  "censored": False}))
    builder = FeatureBuilder([SameWeekday(weeks=(4,))], min_lag=10).fit(data)
    frame = builder.transform(data, dates[-14:]).set_index("date")
    saturday = frame[frame.index.dayofweek == 5]
    assert (saturday["dow_mean_4w_lag10"] == 14.0).all()
    assert saturday["dow_ratio_4w_lag10"].iloc[0] == pytest.approx(14.0 / (26.0 / 7))
    assert (frame.loc[frame.index.dayofweek == 1, "dow_mean_4w_lag10"] == 2.0).all()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Lags(lags=(0, 28)), "'lags' of Lags must be a non-empty tuple of whole numbers >= 1"),
        (lambda: Lags(lags=()), "'lags' of Lags must be a non-empty tuple"),
        (lambda: RollingOnLag(stats=("median",)), "'stats' of RollingOnLag must be a non-empty subset"),
        (lambda: RollingOnLag(lag=0), "'lag' of RollingOnLag must be None or a whole number"),
        (lambda: SameWeekday(weeks=(0,)), "'weeks' of SameWeekday must be a non-empty tuple"),
        (lambda: SameWeekday(season_length=1), "'season_length' of SameWeekday must be a whole number"),
        (lambda: EWM(alphas=(1.5,)), r"'alphas' of EWM must be a non-empty tuple of numbers in \(0, 1\]"),
        (lambda: Calendar(fields=("hour",)), "'fields' of Calendar must be a non-empty subset"),
        (lambda: Events(max_days=0), "'max_days' of Events must be a whole number of days in 1..366"),
        (lambda: Price(reference_days=3), "'reference_days' of Price must be a whole number of days >= 7"),
        (lambda: Intermittency(windows=(-1,)), "'windows' of Intermittency must be"),
        (lambda: Static(columns=("colour",)), "'columns' of Static must be a non-empty subset"),
        (lambda: FeatureBuilder([Lags(lags=(7,))], min_lag=28), "Lags looks 7 days back, closer than"),
        (lambda: FeatureBuilder([EWM(lag=14)], min_lag=28), "EWM looks 14 days back"),
        (lambda: FeatureBuilder(min_lag=0), "'min_lag' of FeatureBuilder must be a whole number"),
        (lambda: FeatureBuilder(["lag_7"]), "'specs' of FeatureBuilder must be feature specs"),  # type: ignore[list-item]
    ],
)
def test_spec_and_builder_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_transform_before_fit_and_bad_dates_raise():
    data = _dataset(_sales())
    with pytest.raises(RuntimeError, match="not fitted yet"):
        FeatureBuilder().transform(data, [data.end_date])
    builder = FeatureBuilder().fit(data)
    with pytest.raises(ValueError, match="on or after the first sales date 2024-01-01"):
        builder.transform(data, [pd.Timestamp("2023-12-01")])
    with pytest.raises(ValueError, match="'rng' is required"):
        builder.transform(data, [data.end_date], max_rows=1)


def test_restart_features_follow_a_relaunch_and_do_not_leak():
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    units = np.full(120, 4.0)
    units[40:70] = 0.0  # 30 days without a sale (a stockout or a delisting), then back at 10 a day
    units[70:] = 10.0
    censored = np.zeros(120, dtype=bool)
    censored[50:55] = True  # censored days inside the run still count as part of it
    sales = pd.DataFrame({"sku": "a", "channel": "web", "date": dates, "units": units, "censored": censored})
    data = _dataset(sales)
    builder = FeatureBuilder(min_lag=7).fit(data)
    names = builder.feature_names_
    assert {"restart_days_since", "restart_run_length", "restart_level", "ewm_ratio_0.2",
            "ewm_ratio_0.5"} <= set(names)
    frame = builder.transform(data, [dates[69], dates[89], dates[119]]).set_index("date")
    # The information date of day 89 is day 82: 12 days after the restart on day 70, level 10.
    assert frame.loc[dates[89], "restart_days_since"] == 12
    assert frame.loc[dates[89], "restart_run_length"] == 30
    assert frame.loc[dates[89], "restart_level"] == pytest.approx(10.0)
    assert frame.loc[dates[89], "ewm_ratio_0.5"] > 1.5  # the short mean has caught up, the long one not
    assert np.isnan(frame.loc[dates[69], "restart_days_since"])  # not restarted yet at day 62
    # Rows after the information date may change freely: no restart feature may move.
    t = dates[89]
    changed = sales.copy()
    late = changed["date"] > t - pd.Timedelta(days=7)
    changed.loc[late, "units"] = 0.0
    moved = builder.transform(_dataset(changed), [t]).set_index("date")
    pd.testing.assert_frame_equal(moved[names], frame.loc[[t], names])


@pytest.mark.parametrize("width", [1, 2, 7, 90, 200])
def test_window_max_is_pandas_rolling_max_at_the_cells(width: int) -> None:
    from features._builder_cells import window_max

    rng = np.random.default_rng(width)
    matrix = rng.gamma(2.0, 3.0, size=(6, 120))
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    matrix[0, :50] = np.nan  # a leading gap: NaN until the first value
    expected = pd.DataFrame(matrix.T).rolling(width, min_periods=1).max().to_numpy().T
    rows = rng.integers(0, 6, size=300)
    cells = rng.integers(0, 120, size=300)
    np.testing.assert_array_equal(window_max(matrix, rows, cells, width), expected[rows, cells])
