"""Volatility shifts: a lasting change in how variable a series' weekly demand is, in either direction.

Method, vectorised over all series:

1. Daily residuals around the expected day: a centred moving level (so a change of level, a trend
   or a slow season is not mistaken for a change of variability) times the series' own weekday
   profile. Stockout days, promotion days and the days around calendar events are left out, and
   residuals are winsorised per series, so one-off peaks do not pass for a regime.
2. Each week's spread: the log of the mean absolute relative residual of its known days. A change of
   the CV by a factor shifts this weekly figure by the log of that factor, whatever the level.
3. A CUSUM change-point scan of that weekly spread, normalised by a Bartlett long-run variance of
   the residuals around each side's own mean. Under no change the maximum converges to the supremum
   of a Brownian bridge, whose Kolmogorov distribution gives an analytic p-value, so no permutations
   are needed even for 30,000 series.
4. Benjamini-Hochberg over all series (statsmodels ``multipletests``): reported shifts keep the
   expected share of false discoveries under ``fdr``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Final

import numpy as np
import pandas as pd
from scipy.stats import kstwobign
from statsmodels.stats.multitest import multipletests

from features.checks import ParamCheck, check_params, is_number, is_whole
from features.dataset import Dataset
from forecasting.signals.matrix import demand_matrix, mask_events

logger = logging.getLogger(__name__)

SHIFT_COLUMNS: Final = ["sku", "channel", "changed_at", "cv_before", "cv_after", "p_value", "q_value"]

_CHECKS: Final = {
    "fdr": ParamCheck(lambda v: is_number(v) and 0.0 < v < 1.0, "a false discovery rate in (0, 1)"),
    "min_weeks": ParamCheck(lambda v: is_whole(v, 12), "a whole number of weeks >= 12"),
    "min_segment_weeks": ParamCheck(lambda v: is_whole(v, 3), "a whole number of weeks >= 3"),
    "level_days": ParamCheck(lambda v: is_whole(v, 7) and v % 2 == 1, "an odd number of days >= 7"),
    "bandwidth": ParamCheck(lambda v: is_whole(v, 0, 12), "a whole number of lags in 0..12"),
    "winsor": ParamCheck(lambda v: is_number(v) and 0.5 < v <= 1.0, "a quantile in (0.5, 1]"),
    "min_ratio": ParamCheck(lambda v: is_number(v) and v >= 1.0, "a CV ratio >= 1 (e.g. 1.5)"),
    "min_nonzero_share": ParamCheck(lambda v: is_number(v) and 0.0 <= v < 1.0, "a share in [0, 1)"),
}
_CHUNK: Final = 4000  # series per block: bounds memory at a few hundred MB for two-year histories


def detect_volatility_shifts(
    data: Dataset,
    *,
    fdr: float = 0.05,
    min_weeks: int = 26,
    min_segment_weeks: int = 4,
    level_days: int = 29,
    bandwidth: int = 2,
    winsor: float = 0.99,
    min_ratio: float = 1.5,
    min_nonzero_share: float = 0.5,
    return_all: bool = False,
) -> pd.DataFrame:
    """Detect a change in the variability of demand around its expected level, one per series.

    Args:
        data: Validated tables; ``sales`` is scanned up to ``data.end_date``; ``events`` (if any)
            mark days to leave out.
        fdr: Benjamini-Hochberg false discovery rate across all scanned series.
        min_weeks: Series with fewer known weeks are not scanned (too short to tell).
        min_segment_weeks: Least weeks on each side of a change point.
        level_days: Width of the centred moving level (odd, days).
        bandwidth: Lags of the Bartlett long-run variance of the weekly spread.
        winsor: Per-series quantile at which absolute residuals are capped.
        min_ratio: Least change of the CV (either way) worth an alert: with thousands of series,
            a 20% drift is significant yet not actionable.
        min_nonzero_share: Series with fewer non-zero known days are not scanned: intermittent and
            lumpy demand changes its variability with every change of order frequency, which the
            ADI/CV² pattern of segmentation tracks instead.
        return_all: Return every scanned series (with its best change point and p/q-values), not
            only the significant ones.

    Returns:
        Only series with ``q_value <= fdr`` and a CV ratio of at least ``min_ratio``:
        ``sku, channel, changed_at`` (first day of the first week of the new regime), ``cv_before``
        and ``cv_after`` (``std(units - expected) / mean(expected)`` on each side, the ground truth's
        definition), ``p_value`` and ``q_value`` (BH-adjusted), sorted by ``q_value``.

    Raises:
        ValueError: If a parameter is out of range.
    """
    check_params(
        "detect_volatility_shifts", _CHECKS, fdr=fdr, min_weeks=min_weeks,
        min_segment_weeks=min_segment_weeks, level_days=level_days, bandwidth=bandwidth, winsor=winsor,
        min_ratio=min_ratio, min_nonzero_share=min_nonzero_share,
    )
    matrix = demand_matrix(data, exclude_promo=True)
    values = mask_events(matrix, data.events)
    dow = ((matrix.start.dayofweek + np.arange(matrix.n_days)) % 7).astype(int)
    frames = []
    for lo in range(0, len(matrix.keys), _CHUNK):
        block = values[lo:lo + _CHUNK].astype(float)
        keys = matrix.keys.iloc[lo:lo + _CHUNK]
        with np.errstate(invalid="ignore", divide="ignore"):
            nonzero = (block > 0).sum(axis=1) / (~np.isnan(block)).sum(axis=1)
        steady = np.nan_to_num(nonzero) >= min_nonzero_share
        block, keys = block[steady], keys[steady]
        expected = _expected(block, dow, level_days)
        frames.append(_scan(keys, block, expected, matrix.start, min_weeks, min_segment_weeks, bandwidth,
                            winsor))
        logger.debug("volatility: scanned %d of %d series", min(lo + _CHUNK, len(values)), len(values))
    out = pd.concat(frames, ignore_index=True)
    if out.empty:
        return out.assign(q_value=pd.Series(dtype=float))[SHIFT_COLUMNS]
    out["q_value"] = multipletests(out["p_value"].to_numpy(), method="fdr_bh")[1]
    ratio = np.exp(np.abs(np.log(out["cv_after"] / out["cv_before"])))
    found = (out["q_value"] <= fdr) & (ratio >= min_ratio)
    logger.info("Volatility shifts: %d of %d scanned series at FDR %.2f.", int(found.sum()), len(out), fdr)
    if not return_all:
        out = out[found]
    return out.sort_values(["q_value", "sku", "channel"]).reset_index(drop=True)[SHIFT_COLUMNS]


def _centred_mean(x: np.ndarray, width: int) -> np.ndarray:
    """NaN-aware centred moving mean along days, windows shrinking at the edges."""
    n = x.shape[1]
    known = ~np.isnan(x)
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(np.where(known, x, 0.0), axis=1)], axis=1)
    ccount = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(known, axis=1)], axis=1)
    t = np.arange(n)
    lo, hi = np.clip(t - width // 2, 0, n), np.clip(t + width // 2 + 1, 0, n)
    count = ccount[:, hi] - ccount[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[:, hi] - csum[:, lo]) / count, np.nan)


def _expected(x: np.ndarray, dow: np.ndarray, level_days: int) -> np.ndarray:
    """Expected demand of each day: the moving level times the series' weekday profile."""
    level = _centred_mean(x, level_days)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings(
        action="ignore", category=RuntimeWarning
    ):
        ratio = x / level
        profile = np.stack([np.nanmean(ratio[:, dow == d], axis=1) for d in range(7)], axis=1)
        profile = profile / np.nanmean(profile, axis=1, keepdims=True)
    return level * np.nan_to_num(profile, nan=1.0)[:, dow]


def _scan(
    keys: pd.DataFrame, x: np.ndarray, expected: np.ndarray, start: pd.Timestamp, min_weeks: int,
    min_seg: int, bandwidth: int, winsor: float,
) -> pd.DataFrame:
    """The best change point and its p-value for every series of a block with enough weeks."""
    n_weeks = x.shape[1] // 7
    offset = x.shape[1] - 7 * n_weeks
    # A floor on the expected day keeps near-zero days of slow series from exploding the ratio.
    floor = 0.25 * np.nanmean(expected, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(x - expected) / np.fmax(expected, floor)
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        cap = _row_quantile(rel, winsor)
        blocks = np.minimum(rel, cap)[:, offset:].reshape(x.shape[0], n_weeks, 7)
        known = (~np.isnan(blocks)).sum(axis=2)
        spread = np.where(known >= 3, np.nanmean(blocks, axis=2), np.nan)
        # Weekly spread on a log scale: a CV that doubles moves it by log 2 at any demand level.
        spread = np.log(spread + 0.05 * np.nanmedian(spread, axis=1, keepdims=True) + 1e-9)
    valid = ~np.isnan(spread)
    first = np.where(valid.any(axis=1), valid.argmax(axis=1), n_weeks)
    frames = []
    # Series launched in the same week share a length: scan each such group as one matrix.
    for week0 in np.unique(first):
        rows = np.flatnonzero(first == week0)
        s = spread[rows, week0:]
        if s.shape[1] < max(min_weeks, 2 * min_seg):
            continue
        s = np.where(np.isnan(s), np.nanmedian(s, axis=1, keepdims=True), s)
        stat, split = _cusum(s, min_seg, bandwidth)
        change_col = offset + 7 * (week0 + split)
        cv_before, cv_after = _split_cv(x[rows], expected[rows], change_col)
        frames.append(pd.DataFrame({
            "sku": keys["sku"].to_numpy()[rows], "channel": keys["channel"].to_numpy()[rows],
            "changed_at": start + pd.to_timedelta(change_col, unit="D"),
            "cv_before": cv_before, "cv_after": cv_after, "p_value": kstwobign.sf(stat),
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in SHIFT_COLUMNS if c != "q_value"})
    return pd.concat(frames, ignore_index=True)


def _cusum(u: np.ndarray, min_seg: int, bandwidth: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest standardised CUSUM of ``u`` over split points ``min_seg .. n - min_seg``.

    Returns:
        ``(statistic, split)``: the sup-statistic (Brownian-bridge scale) and the index of the first
        observation after the change.
    """
    n = u.shape[1]
    centred = u - u.mean(axis=1, keepdims=True)
    cusum = np.abs(np.cumsum(centred, axis=1))[:, min_seg - 1:n - min_seg]
    best = np.argmax(cusum, axis=1)
    split = best + min_seg
    # The noise scale comes from residuals around each side's own mean: estimated around the
    # overall mean, a real shift would inflate it (and its autocorrelation) and hide itself.
    after = np.arange(n)[None, :] >= split[:, None]
    side_mean = np.where(
        after,
        (u * after).sum(axis=1, keepdims=True) / after.sum(axis=1, keepdims=True),
        (u * ~after).sum(axis=1, keepdims=True) / (~after).sum(axis=1, keepdims=True),
    )
    resid = u - side_mean
    lrv = np.mean(resid**2, axis=1)
    for lag in range(1, bandwidth + 1):
        weight = 1.0 - lag / (bandwidth + 1.0)
        lrv = lrv + 2.0 * weight * np.mean(resid[:, lag:] * resid[:, :-lag], axis=1)
    # A series whose residuals never vary has no spread to change; a tiny floor avoids 0/0.
    lrv = np.maximum(lrv, 1e-12)
    stat = cusum[np.arange(u.shape[0]), best] / np.sqrt(n * lrv)
    return stat, split


def _split_cv(x: np.ndarray, expected: np.ndarray, change_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``std(units - expected) / mean(expected)`` over the known days before and after each change."""
    known = ~np.isnan(x) & ~np.isnan(expected)
    before = np.arange(x.shape[1])[None, :] < change_col[:, None]
    out = []
    for side in (before & known, ~before & known):
        n = np.maximum(side.sum(axis=1), 1)
        dev = np.where(side, (np.nan_to_num(x) - np.nan_to_num(expected)) ** 2, 0.0).sum(axis=1) / n
        mean = np.where(side, np.nan_to_num(expected), 0.0).sum(axis=1) / n
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(mean > 0, np.sqrt(dev) / mean, np.nan))
    return out[0], out[1]


def _row_quantile(x: np.ndarray, q: float) -> np.ndarray:
    """Per-row quantile (lower) ignoring NaN: one sort instead of numpy's row-by-row nanquantile."""
    ordered = np.sort(x, axis=1)  # NaN sorts last
    known = (~np.isnan(x)).sum(axis=1)
    index = np.clip(np.floor(q * (known - 1)).astype(int), 0, x.shape[1] - 1)
    return ordered[np.arange(x.shape[0]), index][:, None]
