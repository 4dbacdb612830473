"""Combination weights: stacking on holdout folds, shrinkage chosen across folds, the sanity check."""

from __future__ import annotations

import numpy as np
import pytest

from models.combination_weights import WeightEstimator, blend_losses, simplex_grid
from models.losses import pinball_loss

LEVELS = (0.1, 0.5, 0.9)


def _members(noise: tuple[float, ...], n: int = 60, days: int = 56, seed: int = 0):
    """Actuals ~ N(10, 1); member m forecasts the right quantiles shifted by N(0, noise[m]) per series-day."""
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 1, (n, days))
    z = np.array([-1.2816, 0.0, 1.2816])
    quant = np.stack([10 + z + rng.normal(0, s, (n, days, 1)) for s in noise])
    return quant, y, np.repeat([0, 1], days // 2), np.ones(n), np.array(["smooth"] * n)


def test_simplex_grid_sums_to_one() -> None:
    grid = simplex_grid(3)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0)
    assert len(grid) == 66 and (grid >= 0).all()


def test_stacking_leans_on_the_better_member_and_shrinks_by_cross_validation() -> None:
    quant, y, fold, scale, seg = _members((0.2, 3.0))
    est = WeightEstimator(sanity_ratio=10.0).fit(quant, y, fold, scale, seg, LEVELS)
    sw = est.segment_weights_["smooth"]
    assert sw.member_spl[0] < sw.member_spl[1]
    assert sw.stacked[0] >= 0.8
    # On both folds the stacked weights beat equal weights: cross-validation keeps them.
    assert est.shrinkage_ <= 0.25 and est.cv_loss_[0.0] < est.cv_loss_[1.0]
    np.testing.assert_allclose(est.weights_for(seg).sum(axis=1), 1.0)


def test_equally_good_members_keep_equal_weights() -> None:
    quant, y, fold, scale, seg = _members((1.0, 1.0), seed=3)
    est = WeightEstimator().fit(quant, y, fold, scale, seg, LEVELS)
    w = est.segment_weights_["smooth"].weights
    assert abs(w[0] - w[1]) <= 0.3  # averaging independent errors beats either member: near equal


def test_a_member_failing_the_sanity_check_leaves_the_equal_weights() -> None:
    quant, y, fold, scale, seg = _members((0.5, 0.6, 20.0))
    est = WeightEstimator(shrinkage=1.0).fit(quant, y, fold, scale, seg, LEVELS)
    sw = est.segment_weights_["smooth"]
    assert sw.sane.tolist() == [True, True, False]
    np.testing.assert_allclose(sw.weights, [0.5, 0.5, 0.0])


def test_one_fold_uses_half_shrinkage() -> None:
    quant, y, _, scale, seg = _members((0.2, 3.0))
    est = WeightEstimator().fit(quant, y, np.zeros(y.shape[1], dtype=int), scale, seg, LEVELS)
    assert est.shrinkage_ == pytest.approx(0.5) and est.cv_loss_ == {}


def test_series_weights_let_the_heavy_series_choose() -> None:
    """Member 0 is right on the first half of the series, member 1 on the second half: weighing the
    second half 20x moves the stacked weights to member 1 (as the M5 revenue weights would)."""
    rng = np.random.default_rng(5)
    n, days = 80, 56
    y = rng.normal(10, 1, (n, days))
    z = np.array([-1.2816, 0.0, 1.2816])
    good = 10 + z + rng.normal(0, 0.2, (n, days, 1))
    bad = 10 + z + rng.normal(0, 3.0, (n, days, 1))
    first = np.arange(n) < n // 2
    quant = np.stack([np.where(first[:, None, None], good, bad), np.where(first[:, None, None], bad, good)])
    args = (quant, y, np.repeat([0, 1], days // 2), np.ones(n), np.array(["smooth"] * n), LEVELS)
    alike = WeightEstimator(shrinkage=0.0).fit(*args)
    heavy = WeightEstimator(shrinkage=0.0).fit(*args, series_weight=np.where(first, 1.0, 20.0))
    assert alike.segment_weights_["smooth"].n_series == n
    assert heavy.segment_weights_["smooth"].stacked[1] > alike.segment_weights_["smooth"].stacked[1]
    assert heavy.segment_weights_["smooth"].stacked[1] >= 0.8


def test_bad_series_weights_are_refused() -> None:
    quant, y, fold, scale, seg = _members((1.0, 1.0))
    with pytest.raises(ValueError, match="'series_weight' must be finite, non-negative"):
        WeightEstimator().fit(quant, y, fold, scale, seg, LEVELS, series_weight=-np.ones(len(scale)))


def test_blend_losses_equal_the_pinball_loss_of_each_blend_over_observed_rows() -> None:
    rng = np.random.default_rng(11)
    levels = (0.025, 0.25, 0.5, 0.75, 0.975)
    n_rows = 1234  # more rows than one evaluation block, and not a multiple of it
    quant = np.sort(rng.gamma(2.0, 2.0, (3, n_rows, len(levels))), axis=2)
    y = rng.poisson(4, n_rows).astype(float)
    y[::37] = np.nan  # censored days are skipped
    quant[1, 5] = np.nan  # a row a member did not forecast is skipped for every blend
    inv_scale, row_weight = rng.uniform(0.5, 2.0, n_rows), rng.uniform(0.0, 3.0, n_rows)
    grid = simplex_grid(3)
    losses, observed = blend_losses(quant, y, inv_scale, grid, levels, row_weight=row_weight)
    ok = ~np.isnan(y) & np.isfinite(quant).all(axis=(0, 2))
    for g, w in enumerate(grid):
        blend = np.tensordot(w, quant[:, ok], axes=1)
        expected = pinball_loss(y[ok], blend, levels).mean(axis=1) @ (inv_scale[ok] * row_weight[ok])
        assert losses[g] == pytest.approx(expected, rel=1e-12)
    assert observed == pytest.approx(row_weight[ok].sum())
