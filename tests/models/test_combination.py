"""Combination: weights per segment from rolling holdouts, blends, calibration hooks, awkward series."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from models.baselines import SeasonalNaive
from models.combination import Combination, segments
from tests.models.conftest import make_dataset, toy_sales


def _members() -> dict:
    return {"weekly": SeasonalNaive(), "daily": SeasonalNaive(season_length=1, window_seasons=28)}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"weighting": "best"}, r"'weighting' of Combination must be one of \('stacked', 'equal'\)"),
        ({"holdout_days": 3}, "'holdout_days' of Combination must be a whole number of days >= 7"),
        ({"holdout_folds": 5}, r"'holdout_folds' of Combination must be a whole number in 1\.\.4"),
        ({"shrinkage": 1.5}, r"'shrinkage' of Combination must be None \(cross-validated\) or a number in"),
        ({"sanity_ratio": 0.5}, "'sanity_ratio' of Combination must be a number >= 1"),
        ({"members": {}}, "'members' of Combination must be None or a non-empty dict"),
        ({"n_jobs": 0}, "'n_jobs' of Combination must be a whole number of workers >= 1"),
    ],
)
def test_param_checks(toy_dataset, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Combination(members=params.pop("members", _members()), **params).fit(toy_dataset)


def test_stacked_weights_favour_the_better_member(toy_dataset) -> None:
    model = Combination(members=_members(), shrinkage=0.0, calibrate=False).fit(toy_dataset)
    table = model.weight_table_.set_index("segment")
    # A strong weekly pattern: repeating last week beats repeating yesterday, on every segment that has one.
    smooth = table.loc["smooth"]
    assert smooth["spl_weekly"] < smooth["spl_daily"]
    assert smooth["w_weekly"] > smooth["w_daily"]
    np.testing.assert_allclose(model.weights_.sum(axis=1), 1.0)
    fc = model.predict(14)
    served = fc.groupby(["sku", "channel"], observed=True)["model"].first()
    assert served[("smooth", "web")].startswith("combination:weekly")


def test_equal_weighting_averages_the_sane_members(toy_dataset) -> None:
    model = Combination(members=_members(), weighting="equal", sanity_ratio=100.0, calibrate=False)
    model.fit(toy_dataset)
    assert model.shrinkage_ == 1.0
    live = ~model.zero_history_
    np.testing.assert_allclose(model.weights_[live], 0.5)
    strict = Combination(members=_members(), weighting="equal", sanity_ratio=1.0, calibrate=False)
    strict.fit(toy_dataset)
    # Only each segment's best member passes a sanity ratio of 1.
    assert set(np.unique(strict.weights_)) <= {0.0, 1.0}


def test_zero_history_series_are_forecast_as_zero(toy_dataset) -> None:
    model = Combination(members=_members()).fit(toy_dataset)
    fc = model.predict(7, [0.05, 0.5, 0.95])
    zeros = fc[fc["sku"] == "zeros"]
    assert (zeros[["mean", "0.05", "0.5", "0.95"]].to_numpy() == 0).all()
    assert set(zeros["model"]) == {"combination:zero_history"}
    paths = model.sample_paths(7, n_paths=30)
    row = paths.keys.index[paths.keys["sku"] == "zeros"][0]
    assert (paths.values[row] == 0).all()


def test_every_series_gets_a_forecast_from_the_day_after_the_end(toy_dataset) -> None:
    model = Combination(members=_members()).fit(toy_dataset)
    fc = model.predict(5)
    assert len(fc) == 5 * len(toy_dataset.series())
    assert fc["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    assert fc["model"].str.startswith("combination:").all()
    one_day = fc[fc["sku"] == "oneday"]
    assert one_day["mean"].between(0, 10).all()  # sensible: near its single sale of 3


def test_weights_are_shared_within_a_segment(toy_dataset) -> None:
    model = Combination(members=_members()).fit(toy_dataset)
    fc = model.predict(3)
    served = fc.groupby(["sku", "channel"], observed=True)["model"].first().reset_index(drop=True)
    seg = segments(toy_dataset)
    for name in set(seg) - {"zero"}:
        assert served[seg == name].nunique() == 1
    assert model.shrinkage_ in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert set(model.cv_loss_) == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_blend_is_the_weighted_average_of_member_quantiles(toy_dataset) -> None:
    members = _members()
    model = Combination(members=members, calibrate=False).fit(toy_dataset)
    model.weights_[:] = [0.25, 0.75]
    model.zero_history_[:] = False
    # Refit both members: the forced blend needs them.
    model.members_ = {n: m.fit(toy_dataset) for n, m in members.items()}
    qs = (0.1, 0.5, 0.9)
    fc = model.predict(7, qs)
    a, b = (m.predict(7, qs) for m in model.members_.values())
    expected = 0.25 * a["0.5"].to_numpy() + 0.75 * b["0.5"].to_numpy()
    np.testing.assert_allclose(fc["0.5"].to_numpy(), expected)
    assert set(fc["model"]) == {"combination:weekly=0.25+daily=0.75"}


def test_too_short_history_falls_back_to_the_first_member() -> None:
    sales = pd.DataFrame(
        {"sku": ["a", "a", "b"], "channel": "web", "date": ["2024-01-01", "2024-01-02", "2024-01-02"],
         "units": [2.0, 4.0, 1.0]}
    )
    data = make_dataset(sales)
    model = Combination(members=_members()).fit(data)
    fc = model.predict(3)
    assert set(fc["model"]) == {"combination:weekly"}
    assert len(fc) == 6 and (fc["mean"] >= 0).all()


def test_calibrated_paths_give_totals(toy_dataset) -> None:
    data = make_dataset(toy_sales(n_days=200, seed=3))
    model = Combination(members=_members(), n_paths_calibration=50).fit(data)
    assert model.totals_calibrator_ is not None
    paths = model.sample_paths(14, n_paths=40, random_state=1)
    assert paths.values.shape == (len(data.series()), 40, 14)
    assert (paths.values >= 0).all()
    totals = paths.totals(7)
    assert totals.shape == (len(data.series()), 40)
    again = model.sample_paths(14, n_paths=40, random_state=1)
    np.testing.assert_array_equal(paths.values, again.values)


class _CountingNaive(SeasonalNaive):
    """Seasonal naive that counts its fits (class-level, so clones share the tally)."""

    fits: ClassVar[list[pd.Timestamp]] = []

    def _fit(self, data) -> None:
        type(self).fits.append(data.end_date)
        super()._fit(data)


def test_rolling_backtest_fits_each_member_once_per_origin(toy_dataset) -> None:
    from forecasting.evaluation.backtest import backtest

    _CountingNaive.fits = []
    members = {"counted": _CountingNaive(), "daily": SeasonalNaive(season_length=1, window_seasons=28)}
    template = Combination(members=members, holdout_days=14, holdout_folds=1)
    shared = backtest({"combination": template}, toy_dataset, horizon=14, folds=2, total_lead_times=(),
                      progress=False)
    # Origins T-42 (holdout of fold 1), T-28 (fold 1 = holdout of fold 2), T-14 (fold 2): 3 fits, not 4.
    assert len(_CountingNaive.fits) == 3
    assert len(set(_CountingNaive.fits)) == 3

    _CountingNaive.fits = []
    apart = [Combination(members=members, holdout_days=14, holdout_folds=1).fit(toy_dataset.truncate(c))
             for c in sorted({shared.forecasts["cutoff"].min(), shared.forecasts["cutoff"].max()})]
    assert len(_CountingNaive.fits) == 4
    # Reuse changes nothing: the same forecasts as combinations fitted apart.
    last = shared.forecasts[shared.forecasts["fold"] == 1]
    alone = apart[-1].predict(14, tuple(float(c) for c in last.columns if c[:2] == "0."))
    np.testing.assert_allclose(last["mean"].to_numpy(), alone["mean"].to_numpy())


def test_a_member_is_not_reused_for_other_data_or_settings(toy_dataset) -> None:
    from models.member_fits import shared_member_fits

    _CountingNaive.fits = []
    one: dict[str, Any] = {"holdout_days": 14, "holdout_folds": 1}
    with shared_member_fits() as cache:
        Combination(members={"counted": _CountingNaive()}, **one).fit(toy_dataset)
        Combination(members={"counted": _CountingNaive(window_seasons=2)}, **one).fit(toy_dataset)
        Combination(members={"counted": _CountingNaive()}, **one).fit(
            toy_dataset.truncate(toy_dataset.end_date - pd.Timedelta(days=1))
        )
    assert len(_CountingNaive.fits) == 6
    assert len(cache) == 6


def test_fit_reports_each_holdout_fold_and_member(toy_dataset) -> None:
    from models.member_fits import FIT_PROGRESS

    notes: list[str] = []
    token = FIT_PROGRESS.set(notes.append)
    try:
        Combination(members=_members(), calibrate=False).fit(toy_dataset)
    finally:
        FIT_PROGRESS.reset(token)
    folds = ["holdout 1/2: weekly", "holdout 1/2: daily", "holdout 2/2: weekly", "holdout 2/2: daily"]
    assert notes[:4] == folds
    assert notes[-1].startswith("final: ")


class _RefreshableNaive(SeasonalNaive):
    """A seasonal naive that can be re-anchored: counts its fits and refreshes."""

    refreshable: ClassVar[bool] = True
    fits: ClassVar[list[pd.Timestamp]] = []
    refreshes: ClassVar[list[pd.Timestamp]] = []

    def _fit(self, data) -> None:  # type: ignore[no-untyped-def]
        type(self).fits.append(data.end_date)
        super()._fit(data)

    def refresh(self, data):  # type: ignore[no-untyped-def]
        type(self).refreshes.append(data.end_date)
        return _RefreshableNaive(**self.get_params()).fit(data)


@pytest.mark.parametrize(("refits", "n_fits", "n_refreshes"),
                         [("first", 2, 1), ("warm", 2, 1), ("each", 3, 0)])
def test_refreshable_members_are_fitted_once_in_the_holdout(toy_dataset, refits: str, n_fits: int,
                                                            n_refreshes: int) -> None:
    _RefreshableNaive.fits, _RefreshableNaive.refreshes = [], []
    members = {"fresh": _RefreshableNaive(), "daily": SeasonalNaive(season_length=1, window_seasons=28)}
    Combination(members=members, holdout_refits=refits, calibrate=False).fit(toy_dataset)
    # "first": one fit at the first holdout origin, re-anchored at the second, then the final fit.
    # (The counted refresh fits through _fit too, so it is counted there as well.)
    assert len(_RefreshableNaive.refreshes) == n_refreshes
    assert len(_RefreshableNaive.fits) == n_fits + n_refreshes
    assert _RefreshableNaive.fits[-1] == toy_dataset.end_date


def test_revenue_weights_follow_the_last_28_days(toy_dataset) -> None:
    from models.combination_inputs import revenue_weights

    keys = toy_dataset.series()
    sales = toy_dataset.sales.assign(price=2.0)
    priced = replace(toy_dataset, sales=sales)
    weights = revenue_weights(priced, keys)
    assert weights is not None
    recent = sales[sales["date"] > sales["date"].max() - pd.Timedelta(days=28)]
    revenue = recent.groupby(["sku", "channel"], observed=True)["units"].sum().mul(2.0)
    expected = keys.merge(revenue.reset_index(),
                          on=["sku", "channel"], how="left")["units"].fillna(0.0).to_numpy()
    np.testing.assert_allclose(weights, expected)
    # One priced series without a price: revenue cannot be read, every series weighs alike.
    first = (sales["sku"] == keys["sku"].iloc[0]) & (sales["channel"] == keys["channel"].iloc[0])
    unpriced = replace(toy_dataset, sales=sales.assign(price=np.where(first, np.nan, 2.0)))
    assert revenue_weights(unpriced, keys) is None
    assert revenue_weights(replace(toy_dataset, sales=sales.drop(columns="price")), keys) is None


def test_rolling_origins_share_fits_and_refreshes(toy_dataset) -> None:
    from models.member_fits import shared_member_fits

    _RefreshableNaive.fits, _RefreshableNaive.refreshes = [], []
    members = {"fresh": _RefreshableNaive(), "daily": SeasonalNaive(season_length=1, window_seasons=28)}
    end = toy_dataset.end_date
    with shared_member_fits():
        for cutoff in (end - pd.Timedelta(days=28), end):
            Combination(members=members, calibrate=False).fit(toy_dataset.truncate(cutoff))
    # Origin end-28: fit at end-84, refresh at end-56, final fit at end-28. Origin end: its holdout folds
    # (end-56, end-28) are the refresh and the fit made before; only the final fit is new.
    assert _RefreshableNaive.refreshes == [end - pd.Timedelta(days=56)]
    own_fits = [d for d in _RefreshableNaive.fits if d not in _RefreshableNaive.refreshes]
    assert own_fits == [end - pd.Timedelta(days=84), end - pd.Timedelta(days=28), end]


class _WarmNaive(_RefreshableNaive):
    """A refreshable seasonal naive that can also be refitted warm: counts its refits."""

    warm_refittable: ClassVar[bool] = True
    refits: ClassVar[list[pd.Timestamp]] = []

    def refresh(self, data):  # type: ignore[no-untyped-def]
        type(self).refreshes.append(data.end_date)
        return _WarmNaive(**self.get_params()).fit(data)

    def refit(self, data):  # type: ignore[no-untyped-def]
        type(self).refits.append(data.end_date)
        return _WarmNaive(**self.get_params()).fit(data)


@pytest.mark.parametrize(("warm", "refits"), [(True, "first"), (False, "first"), (True, "warm")])
def test_warm_refittable_members_are_refitted_warm_at_the_end(toy_dataset, warm: bool, refits: str) -> None:
    from models.member_fits import shared_member_fits

    _WarmNaive.fits, _WarmNaive.refreshes, _WarmNaive.refits = [], [], []
    members = {"warm": _WarmNaive(), "daily": SeasonalNaive(season_length=1, window_seasons=28)}
    end = toy_dataset.end_date
    with shared_member_fits():
        for cutoff in (end - pd.Timedelta(days=28), end):
            Combination(members=members, warm_refits=warm, holdout_refits=refits,
                        calibrate=False).fit(toy_dataset.truncate(cutoff))
    made = _WarmNaive.refreshes + _WarmNaive.refits
    cold = [d for d in _WarmNaive.fits if d not in made]
    if refits == "warm":
        # Origin end-28: fit at end-84, warm refit at end-56 (scored as served), final at end-28. Origin
        # end: its holdout folds are those two refits, shared; only its own final is new.
        assert _WarmNaive.refreshes == []
        assert _WarmNaive.refits == [end - pd.Timedelta(days=d) for d in (56, 28, 0)]
        assert cold == [end - pd.Timedelta(days=84)]
        return
    # Origin end-28: fit at end-84, refresh at end-56, final at end-28. Origin end: its holdout folds are
    # the refresh and that final member, shared; only its own final is new.
    assert _WarmNaive.refreshes == [end - pd.Timedelta(days=56)]
    if warm:
        assert _WarmNaive.refits == [end - pd.Timedelta(days=28), end]
        assert cold == [end - pd.Timedelta(days=84)]
    else:
        assert _WarmNaive.refits == []
        assert cold == [end - pd.Timedelta(days=84), end - pd.Timedelta(days=28), end]


def test_segments_read_weekly_buckets_as_the_inventory_segmentation_does() -> None:
    days = pd.date_range("2024-01-01", periods=196, freq="D")
    every_third_day = np.where(np.arange(196) % 3 == 0, 6.0, 0.0)  # daily-intermittent, weekly steady
    # A week on, a week off (196 days: the weekly buckets, counted back from the last day, are weeks).
    every_other_week = np.where((np.arange(196) // 7) % 2 == 0, 4.0, 0.0)
    frame = pd.concat([
        pd.DataFrame({"sku": sku, "channel": "web", "date": days, "units": units, "censored": False})
        for sku, units in (("third", every_third_day), ("biweekly", every_other_week),
                           ("none", np.zeros(196)))
    ], ignore_index=True)
    data = make_dataset(frame)
    got = dict(zip(data.series()["sku"], segments(data), strict=True))
    assert got == {"third": "smooth", "biweekly": "intermittent", "none": "zero"}


def test_the_served_lightgbm_continues_its_holdout_boosters(toy_dataset) -> None:
    from models.lightgbm_quantile import LightGBMQuantile
    from models.member_fits import shared_member_fits

    lgbm = LightGBMQuantile(n_estimators=20, num_leaves=7, min_child_samples=5, warm_rounds=3, n_jobs=1)
    members = {"lightgbm": lgbm, "weekly": SeasonalNaive()}
    with shared_member_fits() as fits:
        model = Combination(members=members, shrinkage=1.0, calibrate=False).fit(toy_dataset)
    served = model.members_["lightgbm"]
    end = toy_dataset.end_date
    # Fitted cold at the first holdout origin (end - 56), refitted warm at end - 28 for the second fold,
    # and the cold fit (not that refit) continued at the end: 20 trees and one warm refit's 3 at most.
    assert served.cold_origin_ == end - pd.Timedelta(days=56) and served.origin_ == end
    assert all(20 < b.num_trees() <= 23 for b in served.boosters_.values())
    made = {(key[0], key[-1][1]) for key in fits}
    assert ("lightgbm (refit)", end - pd.Timedelta(days=28)) in made
    assert not any(name == "lightgbm (refreshed)" for name, _ in made)
    cold = Combination(members=members, shrinkage=1.0, calibrate=False, warm_refits=False).fit(toy_dataset)
    assert cold.members_["lightgbm"].cold_origin_ == end
