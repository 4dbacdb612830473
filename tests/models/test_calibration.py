"""Calibration maps: quantile levels and multi-day totals learned from holdout errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from models.calibration import CALIBRATION_LEVELS, LevelCalibrator, TotalsCalibrator
from models.paths import quantile_function

LEVELS = np.asarray(CALIBRATION_LEVELS)


def _too_narrow(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Actuals ~ N(10, 2) forecast as N(10, 1): every interval is too narrow."""
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 2, n)
    q = np.tile(stats.norm.ppf(LEVELS, 10, 1), (n, 1))
    return y, q


def test_level_calibrator_widens_too_narrow_intervals() -> None:
    y, q = _too_narrow(4000, 0)
    cal = LevelCalibrator(lower_tail=True).fit(y, q)
    # Before: the nominal 97.5% quantile is exceeded far more than 2.5% of the time.
    assert (y <= q[:, LEVELS.tolist().index(0.975)]).mean() < 0.9
    y2, q2 = _too_narrow(4000, 1)
    out = cal.quantiles(q2, [0.025, 0.975])
    covered = ((y2 >= out[:, 0]) & (y2 <= out[:, 1])).mean()
    assert covered == pytest.approx(0.95, abs=0.02)


def test_level_calibrator_is_identity_when_calibrated_or_too_little_data() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(10, 1, 5000)
    q = np.tile(stats.norm.ppf(LEVELS, 10, 1), (5000, 1))
    cal = LevelCalibrator().fit(y, q)
    np.testing.assert_allclose(cal.mapped_levels([0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.02)
    few = LevelCalibrator(min_obs=100).fit(y[:50] * 3, q[:50])
    np.testing.assert_allclose(few.mapped_levels([0.05, 0.95]), [0.05, 0.95])


def test_level_calibrator_ignores_censored_nan_and_checks_shapes() -> None:
    y, q = _too_narrow(500, 3)
    y[:100] = np.nan
    assert LevelCalibrator().fit(y, q).n_obs_ == 400
    with pytest.raises(ValueError, match=r"shape \(len\(actual\), len\(levels\)\)"):
        LevelCalibrator().fit(y, q[:, :3])
    with pytest.raises(RuntimeError, match="not fitted"):
        LevelCalibrator().mapped_levels([0.5])


def test_remap_paths_keeps_ranks_and_calibrates_marginals() -> None:
    y, q = _too_narrow(4000, 4)
    cal = LevelCalibrator(lower_tail=True).fit(y, q)
    rng = np.random.default_rng(5)
    paths = rng.normal(10, 1, (3, 2000, 5)).astype(np.float32)
    out = cal.remap_paths(paths)
    assert out.shape == paths.shape and out.dtype == paths.dtype
    # The map is monotone on every day (ranks kept up to ties): the dependence between days is kept.
    in_old_order = np.take_along_axis(out, np.argsort(paths, axis=1, kind="stable"), axis=1)
    assert (np.diff(in_old_order, axis=1) >= 0).all()
    # Tails are widened to the truth N(10, 2); the central band (10%..90%) keeps the model's values.
    np.testing.assert_allclose(
        np.quantile(out, [0.025, 0.975], axis=1).mean(axis=(1, 2)), [6.08, 13.92], atol=0.4
    )
    np.testing.assert_allclose(np.median(out, axis=1), np.median(paths, axis=1), atol=1e-4)


def test_remap_paths_reads_every_rank_as_the_full_quantile_function_would() -> None:
    y, q = _too_narrow(4000, 7)
    cal = LevelCalibrator().fit(y, q)
    paths = np.random.default_rng(8).gamma(2.0, 3.0, (4, 400, 6)).astype(np.float32)
    out = cal.remap_paths(paths)
    # Reference: the quantile function of each day's sorted paths read at every rank's mapped level.
    ranks = (np.arange(400) + 0.5) / 400
    sorted_v = np.sort(paths, axis=1).astype(float).transpose(0, 2, 1)
    u = np.broadcast_to(cal.mapped_levels(ranks), sorted_v.shape)
    expected = quantile_function(sorted_v, ranks, np.ascontiguousarray(u)).transpose(0, 2, 1)
    np.testing.assert_allclose(np.sort(out, axis=1), expected.astype(np.float32), rtol=1e-6)
    assert (cal.mapped_levels(ranks) != ranks).any()  # the map moved the tails: the test bites
    # A map that moves nothing leaves the paths as they are.
    identity = LevelCalibrator(min_obs=10**6).fit(y, q)
    np.testing.assert_allclose(identity.remap_paths(paths), paths, rtol=1e-6)


def test_totals_calibrator_reaches_target_coverage() -> None:
    rng = np.random.default_rng(6)
    n_series, n_paths, horizon = 400, 300, 7
    # Paths' totals are far too narrow: actual totals vary 3x more than the paths say.
    paths = rng.normal(5, 0.3, (n_series, n_paths, horizon)).clip(0)
    actual = 35 + rng.normal(0, 3 * 0.3 * np.sqrt(horizon), n_series)
    cal = TotalsCalibrator().fit(paths.sum(axis=2), actual)
    assert cal.factor_ > 2
    widened = cal.apply(paths)
    q95 = np.quantile(widened.sum(axis=2), 0.95, axis=1)
    assert (actual <= q95).mean() == pytest.approx(0.95, abs=0.03)
    assert (widened >= 0).all()


def test_totals_calibrator_needs_enough_series_and_keeps_zeros() -> None:
    paths = np.zeros((5, 50, 7))
    paths[:, :, 3] = 1.0
    cal = TotalsCalibrator(min_series=20).fit(paths.sum(axis=2), np.full(5, 30.0))
    assert cal.factor_ == 1.0
    cal.factor_ = 2.0
    out = cal.apply(paths)
    assert (out[:, :, [0, 1, 2, 4, 5, 6]] == 0).all()


def test_level_calibrator_widens_only_when_told() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(10, 0.5, 4000)  # the forecast N(10, 1) is too wide
    q = np.tile(stats.norm.ppf(LEVELS, 10, 1), (4000, 1))
    kept = LevelCalibrator(widen_only=True, lower_tail=True).fit(y, q).mapped_levels([0.025, 0.975])
    np.testing.assert_allclose(kept, [0.025, 0.975])
    narrowed = LevelCalibrator(lower_tail=True).fit(y, q).mapped_levels([0.025, 0.975])
    assert narrowed[0] > 0.1 - 1e-9 and narrowed[1] < 0.9 + 1e-9  # pulled in to the central band's edge


def _windows(spreads: tuple[float, ...], n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actuals of several windows, each N(10, spread), forecast as N(10, 1) throughout."""
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.normal(10, s, n) for s in spreads])
    q = np.tile(stats.norm.ppf(LEVELS, 10, 1), (len(y), 1))
    return y, q, np.repeat(np.arange(len(spreads)), n)


def test_level_calibrator_narrows_and_widens_when_every_window_agrees() -> None:
    y, q, folds = _windows((0.6, 0.7))  # both windows: intervals too wide
    narrow = LevelCalibrator(lower_tail=True).fit(y, q, folds=folds).mapped_levels([0.025, 0.975])
    assert narrow[0] > 0.04 and narrow[1] < 0.96
    # Only as far as the window that asks for the smaller move: not as far as the 0.6 window alone.
    alone = LevelCalibrator(lower_tail=True).fit(y[folds == 0], q[folds == 0]).mapped_levels([0.025, 0.975])
    assert narrow[1] > alone[1]
    y, q, folds = _windows((1.5, 1.3))  # both windows: too narrow
    wide = LevelCalibrator(lower_tail=True).fit(y, q, folds=folds).mapped_levels([0.025, 0.975])
    assert wide[0] < 0.02 and wide[1] > 0.98


def test_level_calibrator_keeps_levels_when_windows_disagree() -> None:
    y, q, folds = _windows((0.6, 1.5))
    kept = LevelCalibrator().fit(y, q, folds=folds).mapped_levels([0.025, 0.975])
    np.testing.assert_allclose(kept, [0.025, 0.975])
    with pytest.raises(ValueError, match="'folds' must have the shape of 'actual'"):
        LevelCalibrator().fit(y, q, folds=folds[:10])


def test_totals_rescaling_in_blocks_equals_the_whole_array_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    """More series than one block (2,000): every block is rescaled, as one block over all series would."""
    import models.calibration as calibration

    rng = np.random.default_rng(3)
    paths = rng.poisson(2.0, size=(2_500, 40, 7)).astype(np.float32)
    calibrator = TotalsCalibrator().fit(paths.sum(axis=2), paths.sum(axis=2).mean(axis=1) * 3.0)
    assert calibrator.factor_ != 1.0
    out = calibrator.apply(paths)
    monkeypatch.setattr(calibration, "_APPLY_BLOCK", len(paths))
    whole = calibrator.apply(paths)
    assert out.dtype == np.float32
    assert not np.array_equal(whole, paths)
    np.testing.assert_array_equal(out, whole)


def test_levels_no_window_moves_come_back_exactly_so_zero_bounds_stay_zero() -> None:
    y, q, folds = _windows((1.5, 1.3))  # both windows move the tails; the central band never moves
    cal = LevelCalibrator().fit(y, q, folds=folds)
    central = np.array([0.165, 0.25, 0.5, 0.75, 0.835])
    assert (cal.mapped_levels(central) == central).all()
    # A count series whose quantile function is zero up to 0.2: its 0.165 quantile is exactly zero, so
    # a zero sale is inside the 67% interval (a level read a hair above 0.165 made it 1e-17).
    counts = np.zeros(LEVELS.size)
    counts[LEVELS > 0.2] = np.arange(1, int((LEVELS > 0.2).sum()) + 1)
    assert cal.quantiles(counts[None, :], [0.165])[0, 0] == 0.0


def test_lower_tail_stays_as_fitted_unless_asked() -> None:
    y, q, folds = _windows((1.5, 1.3))  # both windows: too narrow on both sides
    upper_only = LevelCalibrator().fit(y, q, folds=folds)
    both = LevelCalibrator(lower_tail=True).fit(y, q, folds=folds)
    lower = np.array([0.005, 0.025, 0.05])
    assert (upper_only.mapped_levels(lower) == lower).all()
    assert (both.mapped_levels(lower) < lower).all()
    np.testing.assert_allclose(upper_only.mapped_levels([0.975, 0.995]), both.mapped_levels([0.975, 0.995]))
    assert (upper_only.mapped_levels([0.975, 0.995]) > [0.975, 0.995]).all()
    # Paths: the lower ranks keep their values, the upper ones widen.
    paths = np.random.default_rng(9).normal(10, 1, (2, 1000, 3))
    out = upper_only.remap_paths(paths)
    np.testing.assert_allclose(np.quantile(out, 0.02, axis=1), np.quantile(paths, 0.02, axis=1))
    assert (np.quantile(out, 0.98, axis=1) > np.quantile(paths, 0.98, axis=1) + 0.3).all()
