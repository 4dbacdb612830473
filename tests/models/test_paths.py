"""Tests of the quantile-to-sample-path helpers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from features.schema import M5_QUANTILES
from models.paths import (
    ar1_from_pit,
    ar1_matching_sums,
    ar1_normals,
    nan_row_quantiles,
    paths_from_quantiles,
    pit_values,
    quantile_function,
)

LEVELS = np.array(M5_QUANTILES)


def _normal_quantiles(n_series: int, horizon: int, mu: float = 50.0, sd: float = 5.0) -> np.ndarray:
    row = stats.norm.ppf(LEVELS, mu, sd)
    return np.broadcast_to(row, (n_series, horizon, len(LEVELS))).copy()


def test_quantile_function_is_exact_at_levels_monotone_and_nonnegative():
    values = np.array([[0.0, 0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 9.0, 12.0]])
    np.testing.assert_allclose(quantile_function(values, LEVELS, LEVELS[None, :]), values)
    u = np.linspace(1e-6, 1 - 1e-6, 2001)[None, :]
    out = quantile_function(values, LEVELS, u)
    assert (np.diff(out[0]) >= -1e-12).all()
    assert out.min() >= 0.0
    assert out.max() > 12.0  # exponential upper tail goes past the 99.5% quantile


def _reference_quantile_function(values: np.ndarray, levels: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row by row: np.interp inside the levels, the module's exponential tails outside, clipped at 0."""
    out = np.empty(u.shape)
    for i in np.ndindex(u.shape[:-1]):
        v, x = values[i], u[i]
        lower = (v[1] - v[0]) / np.log(levels[1] / levels[0])
        upper = (v[-1] - v[-2]) / np.log((1 - levels[-2]) / (1 - levels[-1]))
        inner = np.interp(x, levels, v)
        below = v[0] - lower * np.log(levels[0] / x)
        above = v[-1] + upper * np.log((1 - levels[-1]) / (1 - x))
        out[i] = np.where(x < levels[0], below, np.where(x > levels[-1], above, inner))
    return np.clip(out, 0.0, None)


@pytest.mark.parametrize("n_levels", [9, 40])  # segments found by comparisons / by binary search
@pytest.mark.parametrize("n_draws", [3, 200])  # fewer draws than levels / many draws per quantile set
def test_quantile_function_matches_row_by_row_interpolation(n_levels: int, n_draws: int) -> None:
    rng = np.random.default_rng(4)
    levels = LEVELS if n_levels == 9 else np.linspace(0.01, 0.99, n_levels)
    values = np.sort(rng.gamma(0.8, 4.0, (6, 5, n_levels)).round(), axis=-1)
    u = rng.uniform(1e-6, 1 - 1e-6, (6, 5, n_draws))
    u[0, 0, :2] = [levels[0] / 2, 1 - (1 - levels[-1]) / 2]  # both tails are read
    np.testing.assert_allclose(quantile_function(values, levels, u),
                               _reference_quantile_function(values, levels, u), rtol=1e-9, atol=1e-9)


def test_ar1_normals_match_the_day_by_day_recursion() -> None:
    rho = np.array([0.0, 0.5, -0.3])
    z = ar1_normals((3, 7, 6), rho, np.random.default_rng(5))
    e = np.random.default_rng(5).standard_normal((3, 7, 6))
    for t in range(1, 6):
        e[:, :, t] = rho[:, None] * e[:, :, t - 1] + np.sqrt(1 - rho[:, None] ** 2) * e[:, :, t]
    np.testing.assert_allclose(z, e, rtol=1e-12)


def test_paths_reproduce_marginal_quantiles():
    values = _normal_quantiles(3, 5)
    paths = paths_from_quantiles(values, LEVELS, 20_000, np.random.default_rng(0), rho=0.5)
    assert paths.shape == (3, 20_000, 5) and paths.dtype == np.float32
    empirical = np.quantile(paths[0, :, 2], [0.025, 0.5, 0.975])
    np.testing.assert_allclose(empirical, stats.norm.ppf([0.025, 0.5, 0.975], 50, 5), atol=0.35)


def test_correlation_widens_lead_time_totals():
    values = _normal_quantiles(1, 28)
    rng = np.random.default_rng(1)
    independent = paths_from_quantiles(values, LEVELS, 5000, rng, rho=0.0).sum(axis=2).std()
    correlated = paths_from_quantiles(values, LEVELS, 5000, rng, rho=0.6).sum(axis=2).std()
    assert independent == pytest.approx(5 * np.sqrt(28), rel=0.08)
    assert correlated > 1.8 * independent


def test_ar1_normals_have_requested_lag1_correlation():
    z = ar1_normals((2, 4000, 10), np.array([0.0, 0.7]), np.random.default_rng(2))
    r = [np.corrcoef(z[i, :, 3], z[i, :, 4])[0, 1] for i in range(2)]
    assert abs(r[0]) < 0.06 and abs(r[1] - 0.7) < 0.05
    with pytest.raises(ValueError, match="'rho' must be in"):
        ar1_normals((1, 2, 3), 1.0, np.random.default_rng(0))


def test_pit_is_uniform_when_calibrated_and_recovers_rho():
    rng = np.random.default_rng(3)
    n_series, n_days, rho = 50, 200, 0.5
    z = ar1_normals((n_series, 1, n_days), rho, rng)[:, 0, :]
    y = stats.gamma.ppf(stats.norm.cdf(z), 2.0, scale=3.0).reshape(-1)
    q = np.broadcast_to(stats.gamma.ppf(LEVELS, 2.0, scale=3.0), (len(y), len(LEVELS)))
    pit = pit_values(y, q, LEVELS, rng)
    # Exact at the given levels (between them the interpolated quantile function is approximate).
    coverage = (pit[:, None] <= LEVELS[None, :]).mean(axis=0)
    np.testing.assert_allclose(coverage, LEVELS, atol=0.01)
    estimate = ar1_from_pit(pit, np.repeat(np.arange(n_series), n_days))
    assert 0.4 < estimate < 0.6


def test_pit_of_zero_sale_spreads_over_the_zero_mass():
    q = np.array([[0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 5.0, 7.0]])
    pit = pit_values(np.zeros(2000), np.repeat(q, 2000, axis=0), LEVELS, np.random.default_rng(4))
    assert pit.max() <= LEVELS[2] + 1e-9
    assert pit.std() > 0.03  # randomised, not a single value


def test_bad_shapes_and_levels_raise():
    with pytest.raises(ValueError, match="shape \\(n_series, horizon, n_quantiles\\)"):
        paths_from_quantiles(np.zeros((2, 3)), LEVELS, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="strictly increasing"):
        paths_from_quantiles(np.zeros((1, 2, 3)), [0.5, 0.1, 0.9], 5, np.random.default_rng(0))


def test_ar1_matching_sums_recovers_rho_from_window_sums():
    rng = np.random.default_rng(5)
    n_series, n_days = 300, 56
    z = ar1_normals((n_series, 1, n_days), 0.6, rng)[:, 0, :]
    pit = stats.norm.cdf(z).reshape(-1)
    series = np.repeat(np.arange(n_series), n_days)
    assert ar1_matching_sums(pit, series, 28) == pytest.approx(0.6, abs=0.12)
    independent = stats.norm.cdf(rng.standard_normal(n_series * n_days))
    assert ar1_matching_sums(independent, series, 28) < 0.15
    assert ar1_matching_sums(pit[:100], series[:100], 28) == 0.0  # too few windows


def test_nan_row_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.poisson(3.0, (200, 30)).astype(float)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[7] = np.nan
    x[8, 1:] = np.nan
    x[8, 0] = 2.0
    levels = [0.0, 0.005, 0.25, 0.5, 0.9, 0.995, 1.0]
    got = nan_row_quantiles(x, levels)
    ok = np.arange(len(x)) != 7
    np.testing.assert_allclose(got[ok], np.nanquantile(x[ok], levels, axis=1).T)
    assert np.isnan(got[7]).all()
    assert (got[8] == 2.0).all()
