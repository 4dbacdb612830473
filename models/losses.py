"""Quantile-loss primitives shared by the models (member selection, calibration) and the metrics.

Everything here is plain numpy on aligned arrays, so the same arithmetic scores a backtest in
``forecasting.evaluation.metrics`` and picks a member inside ``models.combination``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

# The central prediction intervals the project reports, by nominal coverage: (lower, upper) levels.
CENTRAL_INTERVALS: dict[float, tuple[float, float]] = {
    0.50: (0.25, 0.75),
    0.67: (0.165, 0.835),
    0.95: (0.025, 0.975),
    0.99: (0.005, 0.995),
}


def pinball_loss(actual: np.ndarray, predicted: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Pinball (quantile) loss of each prediction.

    Args:
        actual: Observed values, shape ``(n,)``.
        predicted: Predicted quantiles, shape ``(n, k)``, column ``j`` at level ``quantiles[j]``.
        quantiles: The ``k`` levels in (0, 1).

    Returns:
        Array ``(n, k)``: ``q * (y - p)`` when ``y >= p`` else ``(1 - q) * (p - y)``.
    """
    y = np.asarray(actual, dtype=float)[:, None]
    p = np.asarray(predicted, dtype=float)
    q = np.asarray(quantiles, dtype=float)[None, :]
    if p.ndim != 2 or p.shape[0] != y.shape[0] or p.shape[1] != q.shape[1]:
        raise ValueError(
            f"The 'predicted' array must have shape (len(actual), len(quantiles)) = "
            f"({y.shape[0]}, {q.shape[1]}). Got {p.shape}."
        )
    diff = y - p
    return np.maximum(q * diff, (q - 1.0) * diff)


def m5_scale(history: np.ndarray, *, squared: bool = False) -> float:
    """The M5 scale of one series: mean absolute (or squared) first difference of its history.

    The history counts from the first non-zero sale, as in M5, so leading zeros before a launch do not
    shrink the scale. NaN marks unusable days (e.g. stockouts); differences touching them are skipped.

    Zero-scale series (all zeros, a single observation, or a constant history) have no natural scale:
    this returns NaN and :func:`safe_scale` replaces it, so that such series are scored in units of
    their own level rather than dividing by zero.

    Args:
        history: In-sample values in date order, NaN for days to ignore.
        squared: Use squared differences (the RMSSE scale) instead of absolute ones.

    Returns:
        The scale, or NaN when it is zero or undefined.
    """
    h = np.asarray(history, dtype=float)
    nonzero = np.flatnonzero(np.nan_to_num(h) != 0)
    if nonzero.size == 0:
        return float("nan")
    diffs = np.diff(h[nonzero[0]:])
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0:
        return float("nan")
    value = float(np.mean(diffs**2) if squared else np.mean(np.abs(diffs)))
    return value if value > 0 else float("nan")


def safe_scale(scale: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Replace zero or undefined scales by a fallback so every series can be scored.

    The fallback is the series' mean level (mean of its non-missing history) when positive, else 1,
    i.e. the loss is then relative to typical demand, or in plain units for an all-zero history.

    Args:
        scale: Scales per series (NaN or 0 where undefined).
        level: Mean in-sample level per series.

    Returns:
        Positive scales, one per series.
    """
    s = np.asarray(scale, dtype=float).copy()
    lv = np.nan_to_num(np.asarray(level, dtype=float), nan=0.0)
    bad = ~(s > 0)
    s[bad] = np.where(lv[bad] > 0, lv[bad], 1.0)
    return s


def panel_scales(history: np.ndarray) -> np.ndarray:
    """:func:`m5_scale` of each row of a ``(series, days)`` panel, with :func:`safe_scale`'s fallback."""
    raw = np.array([m5_scale(row) for row in history])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unobserved series get the fallback scale
        level = np.nanmean(history, axis=1)
    return safe_scale(raw, level)


def scaled_pinball(
    actual: np.ndarray, predicted: np.ndarray, quantiles: Sequence[float], scale: np.ndarray
) -> np.ndarray:
    """Pinball loss divided by each row's series scale (the M5 SPL before averaging).

    Args:
        actual: Observed values ``(n,)``.
        predicted: Predicted quantiles ``(n, k)``.
        quantiles: The ``k`` levels.
        scale: Positive scale per row ``(n,)`` (see :func:`m5_scale`, :func:`safe_scale`).

    Returns:
        Array ``(n, k)`` of scaled losses.
    """
    s = np.asarray(scale, dtype=float)
    if not (s > 0).all():
        raise ValueError("Every 'scale' must be > 0. Pass the scales through safe_scale() first.")
    return pinball_loss(actual, predicted, quantiles) / s[:, None]


def interval_hits(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, *,
                  closed: bool = True) -> np.ndarray:
    """Whether each actual lies in its closed interval ``[lower, upper]`` (open with ``closed=False``).

    The interval is closed because demand is discrete: a zero forecast band covers a zero sale. For
    counts the two bracket a calibrated forecast: where ``lower`` and ``upper`` are the ``lo`` and ``hi``
    quantiles of the demand's distribution, P(lower < y < upper) <= hi - lo <= P(lower <= y <= upper).
    A closed coverage above nominal with an open coverage below it is what ties at the bounds (zero
    sales under a zero lower bound) give, not a too-wide interval.
    """
    y = np.asarray(actual, dtype=float)
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    if closed:
        return (y >= lo) & (y <= hi)
    return (y > lo) & (y < hi)


def interval_coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside their closed interval; NaN when there is nothing to score."""
    hits = interval_hits(actual, lower, upper)
    return float(hits.mean()) if hits.size else float("nan")


def upper_coverage(actual: np.ndarray, upper_quantile: np.ndarray) -> float:
    """Share of actuals at or below their predicted upper quantile (one-sided coverage)."""
    y = np.asarray(actual, dtype=float)
    ok = ~np.isnan(y)
    if not ok.any():
        return float("nan")
    return float((y[ok] <= np.asarray(upper_quantile, dtype=float)[ok]).mean())
