"""Combination weights: stacking on rolling holdout folds, shrunk towards an equal-weight average.

Per demand segment, the members' quantile forecasts are averaged (Vincentization) with weights that are
a mix of two estimates made on the holdout folds:

* ``equal``: an equal-weight average of the members that pass a sanity check (their pooled holdout
  SPL within ``sanity_ratio`` of the segment's best member). Equal weights are the hard-to-beat
  default of forecast combination; the check keeps a member that is plainly broken on a segment
  (e.g. seasonal naive on intermittent series) out of it.
* ``stacked``: the weights on a simplex grid that minimise the segment's scaled pinball loss, the
  segment's mean loss being pooled towards the all-series mean with the weight of ``pool_series``
  series (small segments lean on everything).

The final weights are ``s * equal + (1 - s) * stacked``. The shrinkage ``s`` is chosen by
cross-validation over the folds (weights estimated on the other folds, scored on the held-out one),
ties going to the larger ``s``: stacking only moves away from equal weights as far as that held up on
another window. With one fold ``s`` is 0.5.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.losses import pinball_loss

SHRINKAGE_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# Series per segment the grid losses are computed on (a random sample beyond it bounds the cost).
MAX_WEIGHT_SERIES = 1500
# Rows (series-days) per block of the grid evaluation: bounds the (grid x rows x levels) temporary. At
# 500 rows it is 10 MB for four members' 286 weight vectors and nine levels, which stays in cache: the
# weights of online retail's 1,054 series are evaluated in 1.0 s instead of 1.7 s at 2,000 rows.
_ROW_BLOCK = 500


def simplex_grid(n_members: int) -> np.ndarray:
    """Weight vectors on the simplex (steps of 0.1; 0.2 beyond five members), shape ``(G, n_members)``."""
    steps = 10 if n_members <= 5 else 5
    points = [c for c in itertools.product(range(steps + 1), repeat=n_members) if sum(c) == steps]
    return np.asarray(points, dtype=float) / steps


def blend_losses(quant: np.ndarray, y: np.ndarray, inv_scale: np.ndarray, weights: np.ndarray,
                 levels: Sequence[float], row_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Summed scaled pinball loss of each weight vector's blend over the observed rows.

    Args:
        quant: Members' quantiles ``(n_members, n_rows, n_levels)``.
        y: Actuals ``(n_rows,)``; NaN rows are skipped.
        inv_scale: ``1 / scale`` of each row's series ``(n_rows,)``.
        weights: ``(G, n_members)`` weight vectors.
        levels: The ``n_levels`` quantile levels.
        row_weight: Weight of each row's series ``(n_rows,)`` (e.g. its revenue share); None: 1 each.

    Returns:
        ``(losses (G,), observed weight)``: each blend's weighted loss summed over rows (mean over
        levels), and the summed weight of the observed rows (their count without ``row_weight``).
    """
    ok = ~np.isnan(y) & np.isfinite(quant).all(axis=(0, 2))
    rw = np.ones(len(y)) if row_weight is None else np.asarray(row_weight, dtype=float)
    q, yy, inv = quant[:, ok], y[ok], inv_scale[ok] * rw[ok]
    total = np.zeros(len(weights))
    tau = np.asarray(levels, dtype=float)
    for start in range(0, len(yy), _ROW_BLOCK):
        sl = slice(start, start + _ROW_BLOCK)
        # The pinball loss in place on the blend's array: one temporary instead of four.
        diff = np.einsum("mrk,gm->grk", q[:, sl], weights, optimize=True)
        np.subtract(yy[sl][None, :, None], diff, out=diff)
        below = diff * (tau - 1.0)
        diff *= tau
        np.maximum(diff, below, out=diff)
        total += diff.mean(axis=2) @ inv[sl]
    return total, float(rw[ok].sum())


@dataclass
class SegmentWeights:
    """Weights of one segment and how they were reached."""

    segment: str
    n_series: int
    member_spl: np.ndarray
    sane: np.ndarray
    equal: np.ndarray
    stacked: np.ndarray
    weights: np.ndarray


class WeightEstimator:
    """Estimate per-segment combination weights on holdout folds (see the module docstring).

    Args:
        sanity_ratio: A member joins the equal-weight average when its holdout SPL is at most this
            times the best member's.
        pool_series: Segment losses are pooled towards the all-series loss with this many series' weight.
        shrinkage: Weight of the equal-weight average in the final weights; None chooses it by
            cross-validation over the folds.
        random_state: Seed of the series sample of large segments.
    """

    def __init__(self, *, sanity_ratio: float = 1.25, pool_series: int = 30,
                 shrinkage: float | None = None, random_state: int = 0) -> None:
        self.sanity_ratio = sanity_ratio
        self.pool_series = pool_series
        self.shrinkage = shrinkage
        self.random_state = random_state

    def fit(self, quant: np.ndarray, actual: np.ndarray, fold: np.ndarray, scale: np.ndarray,
            segment: np.ndarray, levels: Sequence[float],
            series_weight: np.ndarray | None = None) -> WeightEstimator:
        """Learn the weights.

        Args:
            quant: ``(n_members, n_series, n_days, n_levels)`` holdout quantiles.
            actual: ``(n_series, n_days)`` holdout actuals (NaN: censored or not forecast).
            fold: ``(n_days,)`` the fold of each holdout day.
            scale: ``(n_series,)`` the M5 scale of each series.
            segment: ``(n_series,)`` segment label of each series.
            levels: The quantile levels of ``quant``.
            series_weight: ``(n_series,)`` weight of each series in the loss (M5 weights them by
                revenue); None weighs every series alike. Rescaled to a mean of 1, so ``pool_series``
                still counts average series.

        Returns:
            self, with ``segment_weights_`` (label -> :class:`SegmentWeights`), ``shrinkage_`` and
            ``cv_loss_`` (mean held-out SPL per shrinkage value; empty with one fold).
        """
        n_members = quant.shape[0]
        self.grid_ = simplex_grid(n_members)
        rng = np.random.default_rng(self.random_state)
        folds = np.unique(fold)
        sw = np.ones(len(scale)) if series_weight is None else np.asarray(series_weight, dtype=float)
        if not (np.isfinite(sw).all() and (sw >= 0).all() and sw.sum() > 0):
            raise ValueError("The 'series_weight' must be finite, non-negative and not all zero. "
                             "Pass None to weigh every series alike.")
        sw = sw / sw.mean()
        labels = [str(s) for s in np.unique(segment)]
        # Summed losses and counts per segment, fold and grid point: everything below is arithmetic on them.
        sums = np.zeros((len(labels), len(folds), len(self.grid_)))
        counts = np.zeros((len(labels), len(folds)))
        blocks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for i, label in enumerate(labels):
            rows = np.flatnonzero(segment == label)
            if len(rows) > MAX_WEIGHT_SERIES:
                rows = np.sort(rng.choice(rows, MAX_WEIGHT_SERIES, replace=False))
            inv = 1.0 / scale[rows]
            for j, f in enumerate(folds):
                days = np.flatnonzero(fold == f)
                q = quant[:, rows][:, :, days].reshape(n_members, len(rows) * len(days), -1)
                q_block, y_block = q.astype(float), actual[np.ix_(rows, days)].reshape(-1)
                inv_block, row_weight = np.repeat(inv, len(days)), np.repeat(sw[rows], len(days))
                sums[i, j], counts[i, j] = blend_losses(q_block, y_block, inv_block, self.grid_, levels,
                                                        row_weight=row_weight)
                # The cross-validation scores these rows again: keep them with the weights folded in.
                blocks[(i, j)] = (q_block, y_block, inv_block * row_weight)
        # Series weight per segment (its series count when unweighted): how far its own loss is trusted.
        n_series = np.array([sw[segment == label].sum() for label in labels])
        self._n_members_of = {label: int(np.sum(segment == label)) for label in labels}
        self.cv_loss_: dict[float, float] = {}
        if self.shrinkage is not None:
            self.shrinkage_ = float(self.shrinkage)
        elif len(folds) < 2:
            self.shrinkage_ = 0.5
        else:
            self.shrinkage_ = self._cross_validate(sums, counts, n_series, blocks, levels)
        all_folds = np.ones(len(folds), dtype=bool)
        self.segment_weights_ = {
            label: self._segment(i, label, sums, counts, n_series, all_folds, self.shrinkage_)
            for i, label in enumerate(labels)
        }
        return self

    def _pooled(self, sums: np.ndarray, counts: np.ndarray, n_series: np.ndarray,
                use: np.ndarray) -> np.ndarray:
        """Mean loss per segment and grid point on the folds ``use``, pooled towards all series."""
        seg_sum, seg_n = sums[:, use].sum(axis=1), counts[:, use].sum(axis=1)
        overall = seg_sum.sum(axis=0) / max(seg_n.sum(), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            own = np.where(seg_n[:, None] > 0, seg_sum / seg_n[:, None], overall[None, :])
        k = np.where(seg_n > 0, n_series, 0)[:, None].astype(float)
        return (k * own + self.pool_series * overall[None, :]) / (k + self.pool_series)

    def _segment(self, i: int, label: str, sums: np.ndarray, counts: np.ndarray, n_series: np.ndarray,
                 use: np.ndarray, shrinkage: float) -> SegmentWeights:
        pooled = self._pooled(sums, counts, n_series, use)[i]
        n_members = self.grid_.shape[1]
        corners = [int(np.flatnonzero(self.grid_[:, m] == 1.0)[0]) for m in range(n_members)]
        member_spl = pooled[corners]
        sane = member_spl <= self.sanity_ratio * member_spl.min()
        equal = sane / sane.sum()
        stacked = self.grid_[int(np.argmin(pooled))]
        weights = shrinkage * equal + (1.0 - shrinkage) * stacked
        n_members_of = self._n_members_of.get(label, 0)
        return SegmentWeights(label, n_members_of, member_spl, sane, equal, stacked, weights)

    def _cross_validate(self, sums: np.ndarray, counts: np.ndarray, n_series: np.ndarray,
                        blocks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]],
                        levels: Sequence[float]) -> float:
        """The shrinkage whose weights (estimated on the other folds) score best on each held-out fold."""
        n_folds = sums.shape[1]
        held = np.zeros(len(SHRINKAGE_GRID))
        n_rows = 0.0
        for f in range(n_folds):
            train = np.arange(n_folds) != f
            for i in range(sums.shape[0]):
                if counts[i, f] == 0:
                    continue
                candidates = [self._segment(i, "", sums, counts, n_series, train, s).weights
                              for s in SHRINKAGE_GRID]
                q, y, inv = blocks[(i, f)]
                held += blend_losses(q, y, inv, np.asarray(candidates), levels)[0]
                n_rows += counts[i, f]
        self.cv_loss_ = {s: float(v / max(n_rows, 1.0)) for s, v in zip(SHRINKAGE_GRID, held, strict=True)}
        best = held.min()
        # Ties (within 0.01%) go to the larger shrinkage: the simpler, equal-weight end.
        return float(max(s for s, v in zip(SHRINKAGE_GRID, held, strict=True) if v <= best * (1 + 1e-4)))

    def weights_for(self, segment: np.ndarray) -> np.ndarray:
        """``(n_series, n_members)`` weights of each series by its segment."""
        out = np.zeros((len(segment), self.grid_.shape[1]))
        for label, sw in self.segment_weights_.items():
            out[segment == label] = sw.weights
        return out


def pinball_spl(quant: np.ndarray, y: np.ndarray, scale: np.ndarray, levels: Sequence[float]) -> float:
    """Mean scaled pinball loss of one quantile array ``(n_series, n_days, n_levels)`` (NaN days skipped)."""
    flat_q = quant.reshape(-1, quant.shape[-1])
    flat_y = y.reshape(-1)
    inv = np.repeat(1.0 / scale, y.shape[1])
    ok = ~np.isnan(flat_y)
    loss = pinball_loss(flat_y[ok], flat_q[ok], levels).mean(axis=1) * inv[ok]
    return float(loss.mean()) if loss.size else float("nan")
