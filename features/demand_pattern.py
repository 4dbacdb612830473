"""The Syntetos-Boylan demand pattern: one classifier for segmentation, the combination and the
per-pattern scores.

Two statistics of a demand series, over buckets of ``bucket_days`` days (a partly observed bucket is
scaled to its full length from its observed days, unobserved days are NaN):

- ADI, the average demand interval: observed buckets per bucket with demand (inf if none has);
- CV², the squared coefficient of variation of the non-zero bucket sizes (NaN if none).

ADI above 1.32 puts a series on the intermittent side, CV² above 0.49 on the variable side:
``smooth`` (neither), ``erratic`` (variable), ``intermittent`` (intermittent) or ``lumpy`` (both).
"""

from __future__ import annotations

import warnings
from typing import Final

import numpy as np

ADI_CUTOFF: Final = 1.32
CV2_CUTOFF: Final = 0.49
# (ADI above its cut-off, CV² above its cut-off) -> pattern name.
PATTERN_BY_SIDES: Final = {(0, 0): "smooth", (0, 1): "erratic", (1, 0): "intermittent", (1, 1): "lumpy"}
PATTERNS: Final = tuple(PATTERN_BY_SIDES.values())


def pattern_statistics(units: np.ndarray, bucket_days: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """ADI and CV² per row of ``units``.

    Args:
        units: ``(n_series, n_days)`` demand, NaN where unobserved (censored or before the series).
        bucket_days: Days per bucket; buckets end on the last column (a partial first bucket is scaled).

    Returns:
        ``(adi, cv2)``, each ``(n_series,)``: ADI is inf for a series without demand, CV² NaN.
    """
    values = np.asarray(units, dtype=float)
    n, n_days = values.shape
    if bucket_days > 1:
        pad = (-n_days) % bucket_days
        grid = np.concatenate([np.full((n, pad), np.nan), values], axis=1).reshape(n, -1, bucket_days)
        count = (~np.isnan(grid)).sum(axis=2)
        total = np.nansum(grid, axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(count > 0, total * bucket_days / np.maximum(count, 1), np.nan)
    observed = ~np.isnan(values)
    demand = observed & (np.nan_to_num(values) > 0)
    n_observed, n_demand = observed.sum(axis=1), demand.sum(axis=1)
    adi = np.where(n_demand > 0, n_observed / np.maximum(n_demand, 1), np.inf)
    sizes = np.where(demand, values, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without demand: NaN, handled below
        cv2 = np.nanvar(sizes, axis=1) / np.nanmean(sizes, axis=1) ** 2
    return adi, np.where(n_demand > 0, cv2, np.nan)


def classify_pattern(
    adi: np.ndarray, cv2: np.ndarray, adi_cutoff: float = ADI_CUTOFF, cv2_cutoff: float = CV2_CUTOFF
) -> np.ndarray:
    """The pattern of each series from its ADI and CV² (NaN ADI counts as no demand, NaN CV² as 0).

    Returns:
        Object array of ``smooth``, ``erratic``, ``intermittent`` or ``lumpy``.
    """
    adi = np.nan_to_num(np.asarray(adi, dtype=float), nan=np.inf)
    cv2 = np.nan_to_num(np.asarray(cv2, dtype=float), nan=0.0)
    intermittent = (adi > adi_cutoff).astype(int)
    variable = (cv2 > cv2_cutoff).astype(int)
    names = np.array([[PATTERN_BY_SIDES[(a, c)] for c in (0, 1)] for a in (0, 1)], dtype=object)
    return names[intermittent, variable]
