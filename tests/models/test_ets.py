"""ETSForecaster: agreement with statsmodels, routing of ineligible series, censoring, parallel fits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from features.dataset import Dataset
from forecasting.evaluation.metrics import evaluate
from models import ets_kernels as ek
from models.base import NotFittedError
from models.baselines import SeasonalNaive
from models.ets import FORMS, ETSForecaster
from models.imputation import centred_nanmean
from tests.models.conftest import load_m5_tiny, make_dataset


def _frame(units: dict[str, np.ndarray], censored: dict | None = None) -> pd.DataFrame:
    parts = []
    for sku, values in units.items():
        days = pd.date_range("2024-01-01", periods=len(values), freq="D")
        cens = np.zeros(len(values), bool) if not censored or sku not in censored else censored[sku]
        parts.append(
            pd.DataFrame({"sku": sku, "channel": "web", "date": days, "units": values, "censored": cens})
        )
    return pd.concat(parts, ignore_index=True)


def _weekly(n_days: int, level: float, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    week = np.array([0.0, 1.0, 2.0, 0.5, -1.0, -1.5, -1.0]) * level / 10
    return level + week[np.arange(n_days) % 7] + rng.normal(0, noise, n_days)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"forms": ("MNM",)}, r"'forms' of ETSForecaster must be a non-empty tuple of distinct codes"),
        ({"forms": ()}, r"'forms' .* Got \(\)"),
        ({"season_length": 1}, r"'season_length' .* >= 2"),
        ({"history_days": 10}, r"'history_days' .* >= 28"),
        ({"min_history_days": 7}, r"'min_history_days' .* >= 14"),
        ({"min_nonzero_share": 1.5}, r"'min_nonzero_share' .* share in \[0, 1\]. Got 1.5"),
        ({"max_series": -1}, r"'max_series' .* None or a whole number >= 0"),
        ({"n_jobs": 0}, r"'n_jobs' .* processes >= 1"),
        ({"initialization": "known"}, r"'initialization' of ETSForecaster must be one of \('heuristic'"),
        ({"chunk_size": 2.0}, r"'chunk_size' of ETSForecaster must be a whole number of series >= 1"),
        ({"min_history_days": 400}, r"'min_history_days' .* at most 'history_days' \(364\)"),
        ({"season_length": 30, "min_history_days": 28}, r"at least two seasons .* = 60"),
    ],
)
def test_bad_parameters_are_rejected_at_fit(toy_dataset, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ETSForecaster(**params).fit(toy_dataset)


def test_predict_before_fit_raises() -> None:
    with pytest.raises(NotFittedError, match="ETSForecaster is not fitted yet"):
        ETSForecaster().sample_paths(7)


def test_constant_series_forecasts_a_constant() -> None:
    rng = np.random.default_rng(0)
    data = make_dataset(_frame({"flat": 10 + rng.normal(0, 0.1, 200)}))
    fc = ETSForecaster().fit(data).predict(28)
    assert np.allclose(fc["mean"], 10.0, atol=0.15)
    assert (fc["0.995"] - fc["0.005"]).max() < 2.0


@pytest.mark.parametrize("initialization", ["heuristic", "estimated"])
def test_mean_and_quantiles_match_statsmodels_forecast_and_simulation(initialization: str) -> None:
    y = _weekly(300, level=50, noise=3, seed=1)
    data = make_dataset(_frame({"a": y}))
    model = ETSForecaster(forms=("AAdA",), history_days=280, initialization=initialization).fit(data)
    fc = model.predict(21, quantiles=(0.05, 0.5, 0.975))
    reference = ETSModel(y[-280:], error="add", trend="add", damped_trend=True, seasonal="add",
                         seasonal_periods=7, initialization_method=initialization).fit(disp=False)
    assert np.allclose(fc["mean"], reference.forecast(21), rtol=1e-6)
    sims = reference.simulate(21, repetitions=4000, anchor="end", rng=np.random.default_rng(0))
    assert np.allclose(fc["0.975"], np.quantile(sims, 0.975, axis=1), rtol=0.03)
    assert np.allclose(fc["0.05"], np.quantile(sims, 0.05, axis=1), rtol=0.03)
    assert (model.series_["model"] == "ets:AAdA").all()


def test_sample_paths_share_the_marginals_and_correlate_days(toy_dataset) -> None:
    model = ETSForecaster().fit(toy_dataset)
    paths = model.sample_paths(14, n_paths=3000, random_state=5)
    fc = model.predict(14, quantiles=(0.1, 0.9))
    assert paths.values.shape == (len(toy_dataset.series()), 3000, 14) and (paths.values >= 0).all()
    row = int(np.flatnonzero((paths.keys["sku"] == "smooth") & (paths.keys["channel"] == "web"))[0])
    mine = fc[(fc["sku"] == "smooth") & (fc["channel"] == "web")]
    assert np.allclose(np.quantile(paths.values[row], 0.9, axis=0), mine["0.9"], rtol=0.05)
    assert np.allclose(paths.values[row].mean(axis=0), mine["mean"], rtol=0.03)


def test_paths_of_a_wandering_level_are_correlated_across_days() -> None:
    rng = np.random.default_rng(4)
    walk = 40 + np.cumsum(rng.normal(0, 2, 200)) + rng.normal(0, 0.5, 200)
    model = ETSForecaster(forms=("ANN",)).fit(make_dataset(_frame({"walk": walk})))
    assert model.series_["alpha"].to_numpy()[0] > 0.5
    values = model.sample_paths(14, n_paths=2000, random_state=0).values[0]
    # A level shock persists, so 14-day totals spread far more than independent days would.
    # Theory for ANN: corr(day 1, day 14) = alpha / sqrt(1 + 13 alpha^2), about 0.27 at alpha = 1.
    assert np.corrcoef(values[:, 0], values[:, 13])[0, 1] > 0.15
    assert values.sum(axis=1).var() > 3 * values.var(axis=0).sum()


def test_ineligible_series_get_a_marked_fallback(toy_dataset) -> None:
    model = ETSForecaster().fit(toy_dataset)
    fc = model.predict(7)
    assert len(fc) == 7 * len(toy_dataset.series())
    assert fc["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    reason = model.series_.set_index(["sku", "channel"])["reason"]
    assert reason[("smooth", "web")] == "fitted" and reason[("stockout", "web")] == "fitted"
    assert reason[("lumpy", "web")] == "intermittent"
    assert reason[("late", "web")] == "short" and reason[("oneday", "web")] == "short"
    assert reason[("zeros", "web")] == "no_sales"
    tags = fc.groupby("sku", observed=True)["model"].first()
    assert tags["zeros"] == "ets:zero" and tags["lumpy"] == "ets:fallback"
    assert tags["smooth"].startswith("ets:") and tags["smooth"] != "ets:fallback"
    assert set(map(tuple, model.covered_.to_numpy())) == {("smooth", "web"), ("smooth", "store"),
                                                           ("stockout", "web")}
    assert (fc.loc[fc["sku"] == "zeros", ["mean", "0.995"]].to_numpy() == 0).all()
    assert fc.loc[fc["sku"] == "oneday", "mean"].iloc[0] == pytest.approx(3.0)


def test_censored_days_are_imputed_not_read_as_zero() -> None:
    y = _weekly(200, level=20, noise=1, seed=2)
    censored = np.zeros(200, bool)
    censored[175:] = True  # a stockout running up to the forecast origin
    y_cens = y.copy()
    y_cens[censored] = 0.0
    flagged = make_dataset(_frame({"a": y_cens}, censored={"a": censored}))
    unflagged = make_dataset(_frame({"a": y_cens}))
    level_flagged = ETSForecaster().fit(flagged).predict(7)["mean"].mean()
    level_unflagged = ETSForecaster().fit(unflagged).predict(7)["mean"].mean()
    assert abs(level_flagged - 20) < 1.5
    assert level_unflagged < level_flagged - 3


def test_max_series_keeps_the_highest_volume_series() -> None:
    data = make_dataset(_frame({f"s{i}": _weekly(120, level=5 + 5 * i, noise=1, seed=i) for i in range(4)}))
    model = ETSForecaster(forms=("ANN",), max_series=2).fit(data)
    assert sorted(model.covered_["sku"]) == ["s2", "s3"]
    assert (model.series_.set_index("sku").loc[["s0", "s1"], "reason"] == "capped").all()


def test_intervals_cover_about_their_level_on_simulated_ets_series() -> None:
    rng = np.random.default_rng(3)
    n_series, n_days, horizon = 40, 230, 14
    units = {}
    actual = []
    for i in range(n_series):
        level = 30 + np.cumsum(rng.normal(0, 0.6, n_days + horizon))  # local level process
        y = _weekly(n_days + horizon, level=30, noise=2, seed=100 + i) - 30 + level
        units[f"s{i:02d}"] = y[:n_days]
        actual.append(y[n_days:])
    model = ETSForecaster(forms=("ANA",)).fit(make_dataset(_frame(units)))
    fc = model.predict(horizon, quantiles=(0.05, 0.95))
    lo = fc["0.05"].to_numpy().reshape(n_series, horizon)
    hi = fc["0.95"].to_numpy().reshape(n_series, horizon)
    y_true = np.array(actual)
    assert 0.8 <= np.mean((y_true >= lo) & (y_true <= hi)) <= 0.97


def test_fits_are_quiet_and_identical_with_two_processes(toy_dataset) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one = ETSForecaster(n_jobs=1, chunk_size=1).fit(toy_dataset)
    assert not [w for w in caught if "statsmodels" in w.filename]
    two = ETSForecaster(n_jobs=2, chunk_size=1).fit(toy_dataset)
    pd.testing.assert_frame_equal(one.series_, two.series_)
    pd.testing.assert_frame_equal(one.predict(7), two.predict(7))
    assert np.array_equal(one.sample_paths(7, 20, 1).values, two.sample_paths(7, 20, 1).values)


def test_beats_seasonal_naive_on_a_slice_of_m5_tiny() -> None:
    full = load_m5_tiny(n_series=60, first_day=1400)
    history = full.truncate(pd.Timestamp("2016-03-27"))  # d_1885; the holdout is d_1886..d_1913
    actuals = full.sales[full.sales["date"] > history.end_date]
    scores = {
        name: float(evaluate(model.fit(history).predict(28), actuals, history.sales)["mean_spl"].iloc[0])
        for name, model in (("ets", ETSForecaster(max_series=15)), ("naive", SeasonalNaive()))
    }
    assert scores["ets"] < 0.9 * scores["naive"]


@pytest.mark.parametrize("form", ["ANA", "AAdN", "AAdA", "ANN"])
def test_advance_states_follows_statsmodels_smoothing(form: str) -> None:
    trend, damped, seasonal = FORMS[form]
    y = _weekly(330, level=40, noise=2, seed=3) + 0.02 * np.arange(330)
    kwargs = {"error": "add", "trend": trend, "damped_trend": damped,
              "seasonal": "add" if seasonal else None, "seasonal_periods": 7 if seasonal else None}
    first = ETSModel(y[:-25], **kwargs)
    params = np.asarray(first.fit(disp=False, return_params=True))
    _, states = first.smooth(params, return_raw=True)
    states = np.asarray(states)
    named = dict(zip(first.param_names, params, strict=True))
    row = np.zeros(ek.N_FIXED + 7)
    row[ek.ALPHA], row[ek.BETA] = named["smoothing_level"], named.get("smoothing_trend", 0.0)
    row[ek.GAMMA], row[ek.PHI] = named.get("smoothing_seasonal", 0.0), named.get("damping_trend", 1.0)
    row[ek.LEVEL], row[ek.TREND] = states[-1, 0], states[-1, 1] if trend else 0.0
    row[ek.N_FIXED:] = states[-7:, -1] if seasonal else 0.0
    carried = row[None].copy()
    ek.advance_states(carried, y[None, -25:], 7)
    _, expected = ETSModel(y, **kwargs).smooth(params, return_raw=True)
    expected = np.asarray(expected)
    assert carried[0, ek.LEVEL] == pytest.approx(expected[-1, 0], abs=1e-9)
    if trend:
        assert carried[0, ek.TREND] == pytest.approx(expected[-1, 1], abs=1e-9)
    if seasonal:
        assert np.allclose(carried[0, ek.N_FIXED:], expected[-7:, -1], atol=1e-9)


def test_refresh_carries_the_states_forward_without_refitting(toy_dataset) -> None:
    cutoff = toy_dataset.end_date - pd.Timedelta(days=14)
    model = ETSForecaster().fit(toy_dataset.truncate(cutoff))
    fresh = model.refresh(toy_dataset)
    assert fresh is not model and model.origin_ == cutoff and fresh.origin_ == toy_dataset.end_date
    # Same parameters, new states: the first forecast day moves to the new origin.
    assert np.array_equal(fresh.series_["alpha"].dropna(), model.series_["alpha"].dropna())
    fc = fresh.predict(7)
    assert fc["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    # Two refreshes in steps equal one refresh over both steps (the states follow every day once).
    stepped = model.refresh(toy_dataset.truncate(cutoff + pd.Timedelta(days=5))).refresh(toy_dataset)
    pd.testing.assert_frame_equal(stepped.predict(7), fc)
    # Refreshing at the fitted origin changes nothing.
    pd.testing.assert_frame_equal(model.refresh(toy_dataset.truncate(cutoff)).predict(7), model.predict(7))
    # Covered series stay covered; the series launched 6 days before the cutoff is still too short.
    reason = fresh.series_.set_index(["sku", "channel"])["reason"]
    assert reason[("smooth", "web")] == "fitted"
    assert reason[("late", "web")] == "short" and fc[fc["sku"] == "late"]["model"].eq("ets:fallback").all()
    pd.testing.assert_frame_equal(fresh.covered_, model.covered_)


def test_refresh_follows_a_level_shift_after_the_fit() -> None:
    rng = np.random.default_rng(6)
    y = 40 + np.cumsum(rng.normal(0, 2, 300)) + rng.normal(0, 0.5, 300)  # a wandering level: high alpha
    y[-21:] += 30  # and a jump three weeks before the end
    data = make_dataset(_frame({"a": y}))
    model = ETSForecaster(forms=("ANN",)).fit(data.truncate(data.end_date - pd.Timedelta(days=21)))
    before = model.predict(7)["mean"].mean()
    assert model.refresh(data).predict(7)["mean"].mean() == pytest.approx(y[-1], abs=6)
    assert abs(before - y[-22]) < 6


def test_refresh_refuses_data_it_cannot_continue(toy_dataset) -> None:
    cutoff = toy_dataset.end_date - pd.Timedelta(days=10)
    model = ETSForecaster(history_days=60).fit(toy_dataset.truncate(cutoff))
    with pytest.raises(ValueError, match=r"0 to 60 days after its fitted data .* Fit it on that data"):
        model.refresh(toy_dataset.truncate(toy_dataset.end_date - pd.Timedelta(days=30)))
    with pytest.raises(NotFittedError):
        ETSForecaster().refresh(toy_dataset)


def _launch_data() -> Dataset:
    """A year-old weekly series and one launched 70 days before the end (too short 28 days earlier)."""
    old = _weekly(300, level=40, noise=2, seed=1)
    new = _weekly(70, level=20, noise=1, seed=2)
    frame = pd.concat([_frame({"old": old}), _frame({"new": new}).assign(
        date=lambda f: f["date"] + pd.Timedelta(days=230))], ignore_index=True)
    return make_dataset(frame)


def test_refit_keeps_forms_and_fits_uncovered_series_cold() -> None:
    data = _launch_data()
    earlier = ETSForecaster().fit(data.truncate(data.end_date - pd.Timedelta(days=28)))
    warm = earlier.refit(data)
    before = earlier.series_.set_index("sku")
    after = warm.series_.set_index("sku")
    assert warm is not earlier and before.loc["new", "reason"] == "short"
    # The covered series keeps its form; the launched one is now long enough and fitted cold.
    assert after.loc["old", "model"] == before.loc["old", "model"]
    assert after.loc["new", "reason"] == "fitted"
    assert warm.selected_on_ == earlier.origin_ and warm.origin_ == data.end_date
    # The warm start reaches the cold fit's optimum for that form.
    form = str(before.loc["old", "model"]).removeprefix("ets:")
    cold = ETSForecaster(forms=(form,)).fit(data)
    got = warm.predict(14).query("sku == 'old'")["mean"].to_numpy()
    np.testing.assert_allclose(got, cold.predict(14).query("sku == 'old'")["mean"].to_numpy(), rtol=0.02)


def test_refit_chooses_forms_again_after_half_the_history(toy_dataset) -> None:
    end = toy_dataset.end_date
    model = ETSForecaster(history_days=60).fit(toy_dataset.truncate(end - pd.Timedelta(days=40)))
    assert model.refit(toy_dataset).selected_on_ == toy_dataset.end_date  # 40 days > 60 // 2: cold
    near = model.refit(toy_dataset.truncate(toy_dataset.end_date - pd.Timedelta(days=20)))
    assert near.selected_on_ == model.origin_  # 20 days: warm
    with pytest.raises(ValueError, match=r"refits forward only: .* Fit it on that data instead"):
        model.refit(toy_dataset.truncate(toy_dataset.end_date - pd.Timedelta(days=50)))
    with pytest.raises(NotFittedError):
        ETSForecaster().refit(toy_dataset)


@pytest.mark.parametrize("window", [1, 4, 9])
def test_centred_mean_matches_pandas_rolling(window: int) -> None:
    rng = np.random.default_rng(window)
    values = rng.gamma(2.0, 3.0, (60, 52))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[5] = np.nan
    expected = pd.DataFrame(values.T).rolling(window, center=True, min_periods=1).mean().T.to_numpy()
    np.testing.assert_allclose(centred_nanmean(values, window), expected, rtol=1e-12, atol=1e-12)


def test_paths_of_rows_are_the_full_draw_when_every_series_is_asked_for(toy_dataset) -> None:
    model = ETSForecaster().fit(toy_dataset)
    full = model.sample_paths(14, n_paths=30, random_state=3).values
    backwards = np.arange(len(model.keys_))[::-1]
    # Every series, in any order: the series are simulated in fitted order, so the paths are the same.
    np.testing.assert_array_equal(model.sample_paths(14, 30, 3, rows=backwards).values, full[backwards])
    # A repeated row is drawn once: both copies are the same paths.
    twice = model.sample_paths(14, 30, 3, rows=np.array([1, 0, 1])).values
    np.testing.assert_array_equal(twice[0], twice[2])
    assert not np.array_equal(twice[0], twice[1])
