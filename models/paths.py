"""Turn per-day forecast quantiles into joint sample paths (scenarios) that keep the day-to-day correlation.

A model that predicts quantiles of each day separately says nothing about how days move together, yet
lead-time totals depend on it: positively correlated days make the total wider than independent days.
The helpers here draw a Gaussian copula with AR(1) correlation across days and push each day's uniform
through that day's quantile function.

The quantile function between the given levels is piecewise linear in probability (monotone, exact at
the given quantiles). Beyond the outermost levels it has exponential tails whose scale matches the slope
of the last two quantiles, so paths can exceed the 99.5% quantile (as real demand does) without
exploding; the lower tail is clipped at zero demand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

# Work on this many values at a time: the quantile function holds about ten float64 temporaries of a
# chunk's size (at 20 M values they were 1.8 GB, the peak of the 30,000-series weekly job).
_CHUNK_ELEMENTS = 4_000_000
# Up to this many levels, the quantile function finds each value's segment by comparisons.
_COMPARE_LEVELS = 16


def _check_levels(levels: Sequence[float], n_values: int) -> np.ndarray:
    q = np.asarray(levels, dtype=float)
    if q.ndim != 1 or len(q) < 2 or len(q) != n_values:
        raise ValueError(
            f"The 'quantile_levels' must be a 1-d list of at least 2 levels matching the last axis of "
            f"'quantile_values' ({n_values}). Got {len(q)} levels."
        )
    if (q <= 0).any() or (q >= 1).any() or (np.diff(q) <= 0).any():
        raise ValueError(
            f"The 'quantile_levels' must be strictly increasing and inside (0, 1). Got {q.tolist()}."
        )
    return q


def _tail_scales(values: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scales of the exponential lower and upper tails, matching the slope of the outer quantile pairs."""
    lower = (values[..., 1] - values[..., 0]) / np.log(q[1] / q[0])
    upper = (values[..., -1] - values[..., -2]) / np.log((1 - q[-2]) / (1 - q[-1]))
    return lower, upper


def quantile_function(values: np.ndarray, levels: Sequence[float], u: np.ndarray) -> np.ndarray:
    """Evaluate each row's quantile function at probabilities ``u``.

    Args:
        values: Quantile values, shape ``(..., n_q)``, sorted along the last axis.
        levels: The ``n_q`` increasing probability levels of ``values``.
        u: Probabilities in (0, 1), shape ``(..., m)`` with the same leading shape as ``values``.

    Returns:
        Array of the shape of ``u``: linear interpolation between levels, exponential tails outside,
        clipped at zero.
    """
    q = _check_levels(levels, values.shape[-1])
    values = np.sort(values, axis=-1)
    u = np.broadcast_to(u, (*np.broadcast_shapes(values.shape[:-1], u.shape[:-1]), u.shape[-1]))
    if len(q) <= _COMPARE_LEVELS:
        # A few comparisons per value are 5x faster than searchsorted's binary search.
        segment = np.zeros(u.shape, dtype=np.intp)
        for level in q[1:-1]:
            segment += u >= level
    else:
        segment = np.searchsorted(q[1:-1], u, side="right")
    if u.shape[-1] >= values.shape[-1]:
        # Many values per quantile set (sample paths): each segment as intercept + slope * u, two
        # gathers per value instead of four.
        slope = np.diff(values, axis=-1) / np.diff(q)
        intercept = values[..., :-1] - slope * q[:-1]
        out = np.take_along_axis(intercept, segment, axis=-1)
        out += np.take_along_axis(slope, segment, axis=-1) * u
    else:
        # Few values per quantile set (e.g. the tail ranks of calibrated paths): interpolate directly.
        lo_v = np.take_along_axis(values, segment, axis=-1)
        hi_v = np.take_along_axis(values, segment + 1, axis=-1)
        lo_q, hi_q = q[segment], q[segment + 1]
        out = lo_v + (hi_v - lo_v) * (u - lo_q) / (hi_q - lo_q)
    # The tails' logarithms only where u lies beyond the outer levels (about 1% of the paths' values).
    lower, upper = _tail_scales(values, q)
    below, above = u < q[0], u > q[-1]
    if below.any():
        first = np.broadcast_to(values[..., :1], u.shape)[below]
        out[below] = first - np.broadcast_to(lower[..., None], u.shape)[below] * np.log(q[0] / u[below])
    if above.any():
        last = np.broadcast_to(values[..., -1:], u.shape)[above]
        out[above] = last + np.broadcast_to(upper[..., None], u.shape)[above] * np.log(
            (1 - q[-1]) / (1 - u[above])
        )
    return np.clip(out, 0.0, None, out=out)


def ar1_normals(
    shape: tuple[int, int, int], rho: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Standard normal paths with AR(1) correlation ``rho`` along the last axis.

    Args:
        shape: ``(n_series, n_paths, horizon)``.
        rho: Lag-1 correlation in (-1, 1), one value or one per series.
        rng: Source of randomness.

    Returns:
        Array of ``shape``; every element is marginally N(0, 1).
    """
    return _ar1_normals_by_day(shape, rho, rng).transpose(0, 2, 1)


def _ar1_normals_by_day(
    shape: tuple[int, int, int], rho: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """:func:`ar1_normals`' values (same draws), laid out ``(n_series, horizon, n_paths)`` in memory.

    The recursion runs over days: in this layout each day is one contiguous block per series, and the
    quantile function then reads each day's paths contiguously, without a transposed copy.
    """
    n_series, _, horizon = shape
    r = np.broadcast_to(np.asarray(rho, dtype=float), (n_series,))[:, None]
    if (np.abs(r) >= 1).any():
        raise ValueError(f"The AR(1) 'rho' must be in (-1, 1). Got {np.unique(r)[:5].tolist()}.")
    z = np.ascontiguousarray(rng.standard_normal(shape).transpose(0, 2, 1))
    innovation_scale = np.sqrt(1.0 - r**2)
    for t in range(1, horizon):  # a loop over days only, vectorised over series and paths
        z[:, t] *= innovation_scale
        z[:, t] += r * z[:, t - 1]
    return z


def paths_from_quantiles(
    quantile_values: np.ndarray,
    quantile_levels: Sequence[float],
    n_paths: int,
    rng: np.random.Generator,
    rho: float | np.ndarray = 0.3,
) -> np.ndarray:
    """Draw joint daily demand scenarios whose daily marginals follow the given quantiles.

    Args:
        quantile_values: Per series, day and level, shape ``(n_series, horizon, n_q)``.
        quantile_levels: The ``n_q`` increasing levels.
        n_paths: Scenarios per series.
        rng: Source of randomness (``np.random.default_rng(seed)``).
        rho: AR(1) correlation of the Gaussian copula across days, scalar or one per series; 0 means
            independent days.

    Returns:
        Non-negative float32 array ``(n_series, n_paths, horizon)``.
    """
    values = np.asarray(quantile_values, dtype=float)
    if values.ndim != 3:
        raise ValueError(
            f"The 'quantile_values' must have shape (n_series, horizon, n_quantiles). Got {values.shape}."
        )
    _check_levels(quantile_levels, values.shape[2])
    n_series, horizon, _ = values.shape
    rho_all = np.broadcast_to(np.asarray(rho, dtype=float), (n_series,))
    out = np.empty((n_series, n_paths, horizon), dtype=np.float32)
    step = max(1, _CHUNK_ELEMENTS // max(1, n_paths * horizon))
    for start in range(0, n_series, step):
        stop = min(n_series, start + step)
        z = _ar1_normals_by_day((stop - start, n_paths, horizon), rho_all[start:stop], rng)
        u = np.clip(ndtr(z, out=z), 1e-9, 1 - 1e-9, out=z)  # (chunk, horizon, n_paths)
        draws = quantile_function(values[start:stop], quantile_levels, u)
        out[start:stop] = draws.transpose(0, 2, 1)
    return out


def pit_values(
    y: np.ndarray, quantile_values: np.ndarray, levels: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """Randomised probability integral transform of observations under predicted quantile functions.

    Count data put mass on single values (many quantiles are exactly zero), so the PIT of an observation
    is an interval; a uniform draw inside it makes well-calibrated forecasts give uniform PITs.

    Args:
        y: Observations, shape ``(m,)``.
        quantile_values: Predicted quantiles, shape ``(m, n_q)``.
        levels: Their increasing levels.
        rng: Source of the randomisation.

    Returns:
        PIT values in (0, 1), shape ``(m,)``.
    """
    q = _check_levels(levels, quantile_values.shape[-1])
    values = np.sort(np.asarray(quantile_values, dtype=float), axis=-1)
    y = np.asarray(y, dtype=float)
    lower, upper = _tail_scales(values, q)

    def cdf(k: np.ndarray) -> np.ndarray:
        # k = number of quantiles at or below y (right) / strictly below y (left): bracket y.
        inner = np.clip(k, 1, len(q) - 1)
        rows = np.arange(len(y))
        v0, v1 = values[rows, inner - 1], values[rows, inner]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            frac = np.where(v1 > v0, (y - v0) / (v1 - v0), 1.0)
            u = q[inner - 1] + np.clip(frac, 0, 1) * (q[inner] - q[inner - 1])
            u_low = q[0] * np.exp(-np.where(lower > 0, (values[:, 0] - y) / lower, np.inf))
            u_high = 1 - (1 - q[-1]) * np.exp(-np.where(upper > 0, (y - values[:, -1]) / upper, np.inf))
        u = np.where(k == 0, u_low, u)
        return np.where(k == len(q), u_high, u)

    right = cdf((values <= y[:, None]).sum(axis=1))
    left = cdf((values < y[:, None]).sum(axis=1))
    left = np.minimum(left, right)
    return np.clip(left + rng.random(len(y)) * (right - left), 1e-6, 1 - 1e-6)


def ar1_from_pit(pit: np.ndarray, series: np.ndarray) -> float:
    """Pooled lag-1 autocorrelation of the normal scores of PIT values, within each series.

    Args:
        pit: PIT values in time order within each series, shape ``(m,)``.
        series: Series id of each value (consecutive rows of one id are consecutive days).

    Returns:
        The correlation, clipped to [0, 0.95]; 0 when there are too few pairs.
    """
    z = ndtri(np.asarray(pit, dtype=float))
    same = series[1:] == series[:-1]
    a, b = z[:-1][same], z[1:][same]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return 0.0
    r = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return float(np.clip(np.nan_to_num(r), 0.0, 0.95))


def ar1_matching_sums(pit: np.ndarray, series: np.ndarray, window: int) -> float:
    """AR(1) correlation that reproduces the spread of ``window``-day sums of PIT normal scores.

    Lag-1 autocorrelation alone misses the slowly decaying part of forecast errors (a level that was
    wrong stays wrong for the whole lead time), which is what drives the spread of lead-time totals.
    This estimator instead matches ``E[S^2] / (window * E[z^2])`` of non-overlapping ``window``-day sums
    ``S`` of normal scores ``z`` to the AR(1) value ``1 + 2 * sum_j (1 - j/window) * rho**j``.

    Args:
        pit: PIT values in time order within each series, shape ``(m,)``.
        series: Series id of each value (consecutive rows of one id are consecutive days).
        window: Days per sum, e.g. the longest lead time of interest.

    Returns:
        The matching correlation in [0, 0.95]; 0 when there are fewer than 10 full windows.
    """
    z = ndtri(np.clip(np.asarray(pit, dtype=float), 1e-6, 1 - 1e-6))
    frame = pd.DataFrame({"series": series, "z": z})
    # Block number counted from each series' last value, so the most recent days form whole windows.
    position = frame.groupby("series").cumcount(ascending=False).to_numpy()
    frame["block"] = position // window
    blocks = frame.groupby(["series", "block"])["z"].agg(["sum", "size"])
    sums = blocks.loc[blocks["size"] == window, "sum"].to_numpy()
    if len(sums) < 10:
        return 0.0
    ratio = float(np.mean(sums**2) / (window * np.mean(z**2)))
    lags = np.arange(1, window)

    def spread(rho: float) -> float:
        return float(1 + 2 * np.sum((1 - lags / window) * rho**lags))

    if ratio <= 1.0:
        return 0.0
    lo, hi = 0.0, 0.95
    if spread(hi) <= ratio:
        return hi
    for _ in range(50):  # bisection: the spread grows monotonically with rho
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spread(mid) < ratio else (lo, mid)
    return (lo + hi) / 2


def nan_row_quantiles(x: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Quantiles of each row ignoring NaN (numpy's 'linear' method), all levels from one sort.

    ``np.nanquantile(x, q, axis=1)`` loops over rows in Python; on 30,000 rows it costs about a second
    per level, which the forecasts' 26 calibration levels turned into minutes.

    Args:
        x: ``(n, m)`` values, NaN where missing.
        levels: Levels in [0, 1].

    Returns:
        ``(n, len(levels))``; NaN for a row without any value.
    """
    ordered = np.sort(np.asarray(x, dtype=float), axis=1)  # NaN sorts last
    known = (~np.isnan(ordered)).sum(axis=1)
    pos = np.asarray(levels, dtype=float)[None, :] * np.maximum(known - 1, 0)[:, None]
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(known - 1, 0)[:, None])
    rows = np.arange(len(ordered))[:, None]
    a, b = ordered[rows, lo], ordered[rows, hi]
    out = a + (pos - lo) * (b - a)
    out[known == 0] = np.nan
    return out
