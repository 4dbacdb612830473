"""TSB / Croston / SBA: vectorised recursions, the stochastic model behind quantiles and paths, edge cases."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.schema import quantile_column
from models._parallel import pack_recent, series_matrix
from models.base import NotFittedError
from models.intermittent import TSBForecaster, smooth_intermittent
from tests.models.conftest import make_dataset


def _frame(units: dict[str, np.ndarray], censored: dict | None = None) -> pd.DataFrame:
    parts = []
    for sku, values in units.items():
        days = pd.date_range("2024-01-01", periods=len(values), freq="D")
        cens = np.zeros(len(values), bool) if not censored or sku not in censored else censored[sku]
        parts.append(
            pd.DataFrame({"sku": sku, "channel": "web", "date": days, "units": values, "censored": cens})
        )
    return pd.concat(parts, ignore_index=True)


def _reference(y: np.ndarray, ad: float, ap: float, method: str) -> tuple[float, float, float]:
    """Plain per-series loop of the textbook recursions (the vectorised code must agree)."""
    obs = ~np.isnan(y)
    occ = np.nan_to_num(y) > 0
    p = occ.sum() / max(obs.sum(), 1)
    z = np.nansum(np.where(occ, y, 0)) / max(occ.sum(), 1) if occ.any() else 0.0
    x, q, sse = 1 / max(p, 1e-9), 1.0, 0.0
    bias = 1 - ap / 2 if method == "sba" else 1.0
    for t in range(len(y)):
        if not obs[t]:
            continue
        f = p * z if method == "tsb" else bias * z / x
        sse += (y[t] - f) ** 2
        if method == "tsb":
            if occ[t]:
                z += ad * (y[t] - z)
            p += ap * (occ[t] - p)
        else:
            if occ[t]:
                z += ad * (y[t] - z)
                x += ap * (q - x)
                q = 1.0
            else:
                q += 1.0
    return (p if method == "tsb" else bias / x), z, sse


@pytest.mark.parametrize("method", ["tsb", "croston", "sba"])
def test_vectorised_recursion_matches_a_plain_loop(method: str) -> None:
    rng = np.random.default_rng(1)
    units = rng.binomial(1, 0.3, (6, 80)) * rng.poisson(4, (6, 80)).astype(float)
    units[rng.random(units.shape) < 0.1] = np.nan  # censored days
    units[2, :30] = np.nan  # a late start
    ad, ap = np.array([0.1, 0.3]), np.array([0.05, 0.2])
    prob, size, sse = smooth_intermittent(units, ad, ap, method)
    for i in range(units.shape[0]):
        for k in range(2):
            ref = _reference(units[i], ad[k], ap[k], method)
            assert np.allclose((prob[i, k], size[i, k], sse[i, k]), ref)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha_demand": 0.0}, r"'alpha_demand' of TSBForecaster must be None .* or a number in \(0, 1\]"),
        ({"alpha_prob": 1.5}, r"'alpha_prob' of TSBForecaster must be .* Got 1.5"),
        ({"alpha_grid": ()}, r"'alpha_grid' .* non-empty tuple"),
        ({"method": "holt"}, r"'method' of TSBForecaster must be one of \('tsb', 'croston', 'sba'\)"),
        ({"size_distribution": "poisson"}, r"'size_distribution' .* one of \('empirical', 'negbin'\)"),
        ({"level_uncertainty": "yes"}, r"'level_uncertainty' .* True or False"),
        ({"season_length": 1}, r"'season_length' .* >= 2"),
        ({"history_days": 7}, r"'history_days' .* >= 28"),
        ({"n_sim": 10}, r"'n_sim' .* >= 100"),
        ({"random_state": -1}, r"'random_state' .* seed >= 0"),
    ],
)
def test_bad_parameters_are_rejected_at_fit(toy_dataset, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TSBForecaster(**params).fit(toy_dataset)


def test_predict_before_fit_raises() -> None:
    with pytest.raises(NotFittedError, match="TSBForecaster is not fitted yet"):
        TSBForecaster().predict(7)


def test_bernoulli_times_constant_size_gives_the_known_mean_and_zero_share() -> None:
    rng = np.random.default_rng(7)
    units = {f"s{i}": 5.0 * rng.binomial(1, 0.2, 700) for i in range(40)}
    data = make_dataset(_frame(units))
    model = TSBForecaster(alpha_demand=0.05, alpha_prob=0.02, season_length=None, random_state=3).fit(data)
    fc = model.predict(28)
    assert abs(fc["mean"].mean() - 1.0) < 0.1  # p * size = 0.2 * 5
    paths = model.sample_paths(28, n_paths=400, random_state=4).values
    assert abs((paths == 0).mean() - 0.8) < 0.03
    assert np.allclose(paths[paths > 0], 5.0, rtol=1e-3)  # every demand is a 5, as in history
    assert (fc["0.5"] == 0).all() and (fc["0.995"] > 0).all()


def test_quantiles_agree_with_sample_paths_and_never_cross(toy_dataset) -> None:
    model = TSBForecaster(n_sim=4000).fit(toy_dataset)
    fc = model.predict(14, quantiles=(0.1, 0.5, 0.9))
    q = fc[[quantile_column(x) for x in (0.1, 0.5, 0.9)]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()
    paths = model.sample_paths(14, n_paths=4000, random_state=11)
    series = model.series_.reset_index(drop=True)
    smooth = int(series.index[(series["sku"] == "smooth") & (series["channel"] == "web")][0])
    mine = fc[(fc["sku"] == "smooth") & (fc["channel"] == "web")]
    assert np.allclose(np.quantile(paths.values[smooth], 0.9, axis=0), mine["0.9"], rtol=0.15)
    assert np.allclose(paths.values[smooth].mean(axis=0), mine["mean"], rtol=0.1)


def test_every_series_gets_rows_from_the_day_after_the_last_sale(toy_dataset) -> None:
    fc = TSBForecaster().fit(toy_dataset).predict(10)
    assert len(fc) == 10 * len(toy_dataset.series())
    assert fc["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    zeros = fc[fc["sku"] == "zeros"]
    assert (zeros["model"] == "tsb:zero").all()
    assert (zeros[["mean", "0.995"]].to_numpy() == 0).all()
    assert (fc.loc[fc["sku"] == "oneday", "mean"] > 0).all()


def test_censored_days_are_never_read_as_demand() -> None:
    rng = np.random.default_rng(5)
    base = rng.binomial(1, 0.3, 200) * 4.0
    censored = np.zeros(200, bool)
    censored[150:190] = True
    low, high = base.copy(), base.copy()
    low[censored], high[censored] = 0.0, 50.0  # whatever was recorded on stockout days
    data = make_dataset(_frame({"a": low, "b": high}, censored={"a": censored, "b": censored}))
    series = TSBForecaster().fit(data).series_
    prob, size = series["prob"].to_numpy(), series["size"].to_numpy()
    assert prob[0] == pytest.approx(prob[1]) and size[0] == pytest.approx(size[1])
    assert prob[0] > 0.15  # 40 zero days did not pull the probability down


def test_sba_is_croston_times_its_bias_correction() -> None:
    rng = np.random.default_rng(2)
    data = make_dataset(_frame({"a": rng.binomial(1, 0.25, 300) * rng.poisson(6, 300).astype(float)}))
    croston = TSBForecaster(method="croston", alpha_demand=0.1, alpha_prob=0.2, season_length=None)
    sba_model = TSBForecaster(method="sba", alpha_demand=0.1, alpha_prob=0.2, season_length=None)
    croston_fc, sba = croston.fit(data).predict(3), sba_model.fit(data).predict(3)
    assert np.allclose(sba["mean"], croston_fc["mean"] * (1 - 0.2 / 2))
    assert (sba["model"] == "sba").all()


def test_weekly_profile_puts_demand_on_the_selling_weekday() -> None:
    days = pd.date_range("2024-01-01", periods=210, freq="D")
    units = np.where(days.dayofweek == 5, 6.0, 0.0)  # sells on Saturdays only
    data = make_dataset(_frame({"sat": units}))
    fc = TSBForecaster().fit(data).predict(14)
    saturday = fc["date"].dt.dayofweek == 5
    assert fc.loc[saturday, "mean"].min() > 3 * fc.loc[~saturday, "mean"].max()
    flat = TSBForecaster(season_length=None).fit(data).predict(14)
    assert np.allclose(flat["mean"], flat["mean"].iloc[0])


def test_negbin_sizes_are_whole_units_of_at_least_one() -> None:
    rng = np.random.default_rng(3)
    data = make_dataset(_frame({"a": rng.binomial(1, 0.4, 300) * (1 + rng.poisson(3, 300)).astype(float)}))
    paths = TSBForecaster(size_distribution="negbin").fit(data).sample_paths(28, 300).values
    sold = paths[paths > 0]
    assert sold.min() >= 1 and np.allclose(sold, np.round(sold))
    assert abs(paths.mean() - data.sales["units"].mean()) < 0.35 * data.sales["units"].mean()


def test_lead_time_totals_cover_roughly_their_level_on_simulated_series() -> None:
    rng = np.random.default_rng(9)
    n, days, horizon = 300, 400, 28
    p = rng.uniform(0.05, 0.5, n)[:, None]
    mu = rng.uniform(1, 8, n)[:, None]
    shape = (n, days + horizon)
    units = rng.binomial(1, np.broadcast_to(p, shape)) * (1 + rng.poisson(mu, shape))
    data = make_dataset(_frame({f"s{i:03d}": units[i, :days].astype(float) for i in range(n)}))
    paths = TSBForecaster().fit(data).sample_paths(horizon, n_paths=500, random_state=1)
    q95 = np.quantile(paths.totals(horizon), 0.95, axis=1)
    actual = units[:, days:].sum(axis=1)  # series are in sorted key order, as generated
    assert 0.88 <= np.mean(actual <= q95) <= 0.995


def test_same_seed_same_forecast_and_paths(toy_dataset) -> None:
    a = TSBForecaster(random_state=4).fit(toy_dataset)
    b = TSBForecaster(random_state=4).fit(toy_dataset)
    pd.testing.assert_frame_equal(a.predict(7), b.predict(7))
    assert np.array_equal(a.sample_paths(7, 50, 2).values, b.sample_paths(7, 50, 2).values)
    assert not np.array_equal(a.sample_paths(7, 50, 2).values, a.sample_paths(7, 50, 3).values)


def test_series_matrix_and_pack_recent_shape_the_data_as_the_models_read_it(toy_dataset) -> None:
    shuffled = replace(toy_dataset, sales=toy_dataset.sales.sample(frac=1.0, random_state=0))
    matrix = series_matrix(shuffled, history_days=30)
    pd.testing.assert_frame_equal(matrix.keys, toy_dataset.series())
    assert matrix.units.shape == (len(matrix.keys), 30) and matrix.dates[-1] == toy_dataset.end_date
    row = {(s, c): i for i, (s, c) in enumerate(matrix.keys.itertuples(index=False))}
    assert matrix.first_day[row[("late", "web")]] == 10 and matrix.first_day[row[("smooth", "web")]] == 0
    assert np.isnan(matrix.units[row[("late", "web")], :10]).all()
    assert matrix.censored[row[("stockout", "web")]].sum() == 5  # the stockout days, NaN not zero
    packed = pack_recent(np.array([[1.0, np.nan, 2.0, 3.0], [np.nan, np.nan, np.nan, 4.0]]), 2)
    assert np.array_equal(packed, np.array([[2.0, 3.0], [4.0, np.nan]]), equal_nan=True)


def test_level_uncertainty_correlates_the_days_of_a_path() -> None:
    rng = np.random.default_rng(8)
    data = make_dataset(_frame({"a": rng.binomial(1, 0.3, 120) * rng.poisson(5, 120).astype(float)}))
    spread = {}
    for flag in (True, False):
        values = TSBForecaster(level_uncertainty=flag).fit(data).sample_paths(28, 4000, 0).values[0]
        spread[flag] = values.sum(axis=1).var() / values.var(axis=0).sum()
    assert spread[True] > 1.15  # a path with a high drawn rate stays high all month
    assert abs(spread[False] - 1.0) < 0.15  # independent days: totals' variance adds up


def test_a_series_with_one_day_of_history_is_not_certain_to_sell_daily() -> None:
    data = make_dataset(_frame({"new": np.array([2.0])}))
    model = TSBForecaster().fit(data)
    values = model.sample_paths(7, 2000, 0).values[0]
    assert 0.1 < (values == 0).mean() < 0.5  # p = 0.75 after one selling day, drawn around that
    assert model.predict(7)["mean"].iloc[0] == pytest.approx(0.75 * 2.0)


def test_sample_paths_of_rows_draw_only_those_rows_in_blocks(toy_dataset, monkeypatch) -> None:
    model = TSBForecaster().fit(toy_dataset)
    n = len(model.keys_)
    whole = model.sample_paths(14, n_paths=30, random_state=2)
    every = model.sample_paths(14, n_paths=30, random_state=2, rows=np.arange(n))
    np.testing.assert_array_equal(whole.values, every.values)
    # One series per block: another random stream, but each row still draws its own series' demand.
    monkeypatch.setattr("models.intermittent._SIM_VALUES_PER_BLOCK", 30 * 14)
    blocked = model.sample_paths(14, n_paths=30, random_state=2, rows=np.arange(n))
    assert blocked.values.shape == whole.values.shape
    a, b = blocked.totals(14), whole.totals(14)
    tolerance = 0.25 * np.maximum(b.mean(axis=1), 1.0) + 4 * b.std(axis=1) / np.sqrt(30)
    assert (np.abs(a.mean(axis=1) - b.mean(axis=1)) <= tolerance).all()
    part = model.sample_paths(14, n_paths=30, random_state=2, rows=np.array([n - 1]))
    assert list(part.model) == [whole.model[n - 1]]
    assert part.keys.iloc[0].tolist() == whole.keys.iloc[n - 1].tolist()


def test_levels_read_back_from_the_memo_equal_a_fresh_simulation(toy_dataset) -> None:
    import pickle

    from models.calibration import CALIBRATION_LEVELS

    levels = (0.025, 0.5, 0.975)
    fresh = TSBForecaster(n_sim=200).fit(toy_dataset).predict(14, levels)
    model = TSBForecaster(n_sim=200).fit(toy_dataset)
    model.predict(14, CALIBRATION_LEVELS)  # fills the memo with every calibration level
    again = model.predict(14, levels)
    pd.testing.assert_frame_equal(again, fresh)
    # A level not read before is simulated from the same seed: it equals a fresh model's too.
    mixed = model.predict(14, (0.5, 0.42))
    expected = TSBForecaster(n_sim=200).fit(toy_dataset).predict(14, (0.5, 0.42))
    pd.testing.assert_frame_equal(mixed, expected)
    # A saved model leaves the memo behind and forecasts alike when loaded.
    loaded = pickle.loads(pickle.dumps(model))
    assert "_memo" not in loaded.__dict__
    pd.testing.assert_frame_equal(loaded.predict(14, levels), fresh)
