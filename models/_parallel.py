"""Batch helpers for per-series models: a dense series-by-day matrix and chunked process parallelism.

The statistical models (ETS, TSB) work on one row of numbers per series. Building that matrix once
with vectorised pandas/numpy (instead of a ``groupby`` per series) and shipping whole chunks of rows
to worker processes (instead of one task per series) keeps the per-series overhead small enough for
catalogues of tens of thousands of SKU-channels.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from features.dataset import Dataset
from features.schema import SERIES_KEY

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesMatrix:
    """Daily units of every series as one dense array.

    Attributes:
        keys: ``sku, channel`` of each row, in ``Dataset.series()`` order (sorted).
        dates: The day of each column (consecutive days, the last one is ``Dataset.end_date``).
        units: Array ``(n_series, n_days)``; NaN on censored (stockout) days and before a series'
            first row, so those days are never read as demand.
        first_day: Column index of each series' first row (0 if it started before the window).
    """

    keys: pd.DataFrame
    dates: pd.DatetimeIndex
    units: np.ndarray
    first_day: np.ndarray

    @property
    def censored(self) -> np.ndarray:
        """Boolean ``(n_series, n_days)``: the day belongs to the series but its demand is unknown."""
        cols = np.arange(self.units.shape[1])
        return np.isnan(self.units) & (cols[None, :] >= self.first_day[:, None])

    def first_sale_day(self) -> np.ndarray:
        """Column of each series' first day with units > 0 (``n_days`` if it never sold)."""
        sold = np.nan_to_num(self.units, nan=0.0) > 0
        return np.where(sold.any(axis=1), sold.argmax(axis=1), self.units.shape[1])


def series_matrix(data: Dataset, history_days: int | None = None) -> SeriesMatrix:
    """Pivot ``data.sales`` into a :class:`SeriesMatrix`, optionally keeping only the last days.

    Args:
        data: The canonical data; ``sales`` is complete (one row per series and day) with ``censored``.
        history_days: Keep only the last ``history_days`` days up to ``data.end_date``; None keeps all.

    Returns:
        The matrix of every series in ``data.series()``, even series with no row inside the window
        (their row is all NaN).
    """
    keys = data.series()
    end = data.end_date
    start = data.start_date
    if history_days is not None:
        start = max(start, end - pd.Timedelta(days=int(history_days) - 1))
    dates = pd.date_range(start, end, freq="D")
    sales = data.sales
    row = pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(sales[list(SERIES_KEY)]))
    col = ((sales["date"] - start) // pd.Timedelta(days=1)).to_numpy()
    units = sales["units"].to_numpy(dtype=float).copy()
    if "censored" in sales:
        units[sales["censored"].to_numpy(dtype=bool)] = np.nan
    inside = col >= 0
    matrix = np.full((len(keys), len(dates)), np.nan)
    matrix[row[inside], col[inside]] = units[inside]
    first_col = pd.Series(col).groupby(row).min().reindex(range(len(keys)), fill_value=len(dates))
    first_day = np.clip(first_col.to_numpy(dtype=int), 0, len(dates))
    return SeriesMatrix(keys=keys, dates=dates, units=matrix, first_day=first_day)


def chunk_bounds(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """Split ``range(n_items)`` into at most ``n_chunks`` contiguous, nearly equal ``(start, stop)``."""
    n_chunks = max(1, min(n_chunks, n_items))
    edges = np.linspace(0, n_items, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def map_chunks(
    func: Callable[[T], R],
    chunks: Sequence[T],
    n_jobs: int,
    label: str,
) -> Iterator[R]:
    """Apply ``func`` to each chunk, in order, in-process or in ``n_jobs`` worker processes.

    Worker processes (joblib's loky backend) are started once for the whole call, never per series;
    one log line per finished chunk shows progress.

    Args:
        func: A picklable module-level function.
        chunks: The work items (e.g. arrays holding many series each).
        n_jobs: 1 runs in this process; > 1 uses that many processes.
        label: What is being done, for the progress log lines.

    Yields:
        ``func(chunk)`` for each chunk, in the order of ``chunks``.
    """
    total = len(chunks)
    if n_jobs == 1 or total <= 1:
        results: Iterator[R] = (func(chunk) for chunk in chunks)
    else:
        parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")
        results = parallel(delayed(func)(chunk) for chunk in chunks)
    for done, result in enumerate(results, start=1):
        log.info("%s: chunk %d/%d done", label, done, total)
        yield result


def pack_recent(values: np.ndarray, width: int) -> np.ndarray:
    """The last ``width`` non-NaN values of each row, in their order, left-aligned and NaN-padded.

    Args:
        values: Array ``(n_rows, n_cols)`` with NaN where there is no value.
        width: How many of the most recent values to keep per row.

    Returns:
        Array ``(n_rows, width)``: row ``i`` holds its ``min(width, count_i)`` latest values first.
    """
    valid = ~np.isnan(values)
    rank_from_end = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    keep = valid & (rank_from_end <= width)
    kept = np.minimum(valid.sum(axis=1), width)
    col = kept[:, None] - rank_from_end
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
    out = np.full((values.shape[0], width), np.nan)
    out[rows[keep], col[keep]] = values[keep]
    return out
