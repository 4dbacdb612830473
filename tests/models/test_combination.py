"""Combination: holdout selection per series / segment, blends, calibration hooks, awkward series."""

from __future__ import annotations

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
        ({"selection": "best"}, r"'selection' of Combination must be one of \('per_series', 'per_segment'\)"),
        ({"holdout_days": 3}, "'holdout_days' of Combination must be a whole number of days >= 7"),
        ({"holdout_folds": 3}, "'holdout_folds' of Combination must be 1 or 2"),
        ({"shrinkage": -1.0}, "'shrinkage' of Combination must be a number >= 0"),
        ({"members": {}}, "'members' of Combination must be None or a non-empty dict"),
        ({"n_jobs": 0}, "'n_jobs' of Combination must be a whole number of workers >= 1"),
    ],
)
def test_param_checks(toy_dataset, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Combination(members=params.pop("members", _members()), **params).fit(toy_dataset)


def test_per_series_selection_picks_the_better_member(toy_dataset) -> None:
    model = Combination(
        members=_members(), selection="per_series", shrinkage=0.0, blends=False, calibrate=False
    ).fit(toy_dataset)
    fc = model.predict(14)
    served = fc.groupby(["sku", "channel"])["model"].first()
    # A strong weekly pattern: repeating last week beats repeating yesterday.
    assert served[("smooth", "web")] == "combination:weekly"
    scores = model.holdout_scores_
    assert list(scores.columns[:2]) == ["weekly", "daily"]


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


def test_per_segment_selection_is_shared_within_a_segment(toy_dataset) -> None:
    model = Combination(members=_members(), selection="per_segment").fit(toy_dataset)
    fc = model.predict(3)
    served = fc.groupby(["sku", "channel"])["model"].first().reset_index(drop=True)
    seg = segments(toy_dataset)
    for name in set(seg) - {"zero"}:
        assert served[seg == name].nunique() == 1


def test_blend_is_the_average_of_member_quantiles(toy_dataset) -> None:
    members = _members()
    model = Combination(members=members, calibrate=False).fit(toy_dataset)
    model.choice_[:] = model.candidates_.index(("weekly", "daily"))
    model.zero_history_[:] = False
    # Refit both members: the forced blend needs them.
    model.members_ = {n: m.fit(toy_dataset) for n, m in members.items()}
    qs = (0.1, 0.5, 0.9)
    fc = model.predict(7, qs)
    a, b = (m.predict(7, qs) for m in model.members_.values())
    expected = (a["0.5"].to_numpy() + b["0.5"].to_numpy()) / 2
    np.testing.assert_allclose(fc["0.5"].to_numpy(), expected)
    assert set(fc["model"]) == {"combination:blend(weekly+daily)"}


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


def test_per_segment_choice_prefers_the_simpler_candidate_within_one_standard_error() -> None:
    rng = np.random.default_rng(0)
    model = Combination(members=_members())
    model.candidates_ = [("a",), ("b",), ("a", "b")]
    model.segments_ = np.array(["smooth"] * 40)
    base = rng.uniform(0.5, 1.0, 40)
    noise = rng.normal(0.0, 0.05, 40)
    noise -= noise.mean()
    # The blend is better on average by less than the noise between series: keep the single member.
    close = np.column_stack([base, base + 0.2, base - 0.002 + noise])
    assert model._select(close).tolist() == [0] * 40
    model.prefer_simpler = False
    assert model._select(close).tolist() == [2] * 40
    # Better on every series by a clear margin: the blend wins either way.
    model.prefer_simpler = True
    clear = np.column_stack([base, base + 0.2, base - 0.05])
    assert model._select(clear).tolist() == [2] * 40
