"""Signals that warn planners ahead of time: seasonal spikes, volatility shifts, segment changes and
supplier slippage.

The detectors live in submodules (``spikes``, ``volatility``, ``segment_changes``, ``slippage``); this
module holds what they share: the daily demand of every series as a dense matrix, and the array
helpers that find runs of days (the windows detectors report), so that detectors work on whole
catalogues with array operations instead of per-series loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.panel import spread


@dataclass(frozen=True)
class DemandMatrix:
    """Daily demand of many series on one shared calendar.

    Attributes:
        keys: The ``(sku, channel)`` of each row, in row order.
        start: Date of column 0.
        values: Array ``(n_series, n_days)`` of units; NaN where demand is unknown (stockout days,
            whose sales are censored, and days before a series' first row).
    """

    keys: pd.DataFrame
    start: pd.Timestamp
    values: np.ndarray

    @property
    def n_days(self) -> int:
        """Number of days (columns)."""
        return int(self.values.shape[1])

    @property
    def end(self) -> pd.Timestamp:
        """Date of the last column."""
        return self.start + pd.Timedelta(days=self.n_days - 1)

    def column(self, date: pd.Timestamp) -> int:
        """Column index of ``date`` (may fall outside ``0..n_days-1``)."""
        return int((pd.Timestamp(date) - self.start).days)


def demand_matrix(data: Dataset, *, since: pd.Timestamp | None = None,
                  exclude_promo: bool = False) -> DemandMatrix:
    """The Dataset's panel (:meth:`Dataset.panel`) as a float32 :class:`DemandMatrix`.

    Args:
        data: The canonical tables; ``sales`` may carry the ``promo`` flag.
        since: First day to keep (None: from the first sales date).
        exclude_promo: Also leave promotion days unknown, for detectors of lasting patterns that a
            one-off promotion would disturb.

    Returns:
        The detectors' own copy of the panel's units, rows sorted by ``sku, channel`` (series without
        a row since ``since`` left out); float32 keeps 30,000 two-year series under 100 MB.

    Raises:
        ValueError: If there are no sales (since ``since``).
    """
    panel = data.panel().window(since)
    if panel.n_days == 0 or panel.n_series == 0:
        raise ValueError("Table 'sales' is empty: there is no demand to scan for signals. Add sales rows.")
    values = panel.units.astype(np.float32)
    if exclude_promo and "promo" in data.sales:
        promo = spread(data.sales, "promo")[:, data.panel().n_days - panel.n_days:]
        values[np.nan_to_num(promo) > 0] = np.nan
    keys = panel.keys
    present = panel.first_day < panel.n_days
    if not present.all():  # a series whose rows all lie before ``since``
        keys, values = keys[present], values[present]
    return DemandMatrix(keys=keys.reset_index(drop=True), start=panel.dates[0], values=values)


def sku_totals(matrix: DemandMatrix) -> DemandMatrix:
    """Daily demand of each SKU summed over its channels (``channel`` = ``"*"``).

    A day is unknown only when it is unknown on every channel; known channels count otherwise.
    """
    skus = matrix.keys["sku"].to_numpy()
    # Rows are sorted by sku, so each SKU is one block of rows: reduceat sums the blocks.
    first = np.flatnonzero(np.r_[True, skus[1:] != skus[:-1]])
    known = ~np.isnan(matrix.values)
    totals = np.add.reduceat(np.where(known, matrix.values, 0.0), first, axis=0)
    any_known = np.add.reduceat(known.astype(np.int32), first, axis=0) > 0
    keys = pd.DataFrame({"sku": skus[first], "channel": "*"})
    return DemandMatrix(keys, matrix.start, np.where(any_known, totals, np.nan).astype(np.float32))


# Days around an event (before, after) that its effect may reach: pre-Christmas build-up starts a
# week ahead, Black Friday runs into Cyber Monday.
EVENT_WINDOW: tuple[int, int] = (7, 3)


def mask_events(
    matrix: DemandMatrix, events: pd.DataFrame | None, window: tuple[int, int] = EVENT_WINDOW
) -> np.ndarray:
    """A copy of the matrix's values with the days around calendar events set unknown.

    Detectors of lasting patterns (seasons, variability) leave event days to the event evidence.

    Args:
        matrix: Daily demand.
        events: The ``events`` table (``date, event`` and optionally ``channel``; empty = all).
        window: Days before and after each event date to leave out.
    """
    values = matrix.values.copy()
    if events is None or events.empty:
        return values
    channel = events["channel"].fillna("").astype(str) if "channel" in events else pd.Series("", events.index)
    channels = matrix.keys["channel"].to_numpy()
    before, after = window
    for date, chan in zip(pd.to_datetime(events["date"]), channel, strict=True):
        col = matrix.column(date)
        lo, hi = max(col - before, 0), min(col + after + 1, matrix.n_days)
        if lo >= hi:
            continue
        if chan:
            values[channels == chan, lo:hi] = np.nan
        else:
            values[:, lo:hi] = np.nan
    return values


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, first column and end column (exclusive) of every run of True in a 2-D mask."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    # np.nonzero walks row by row, so the k-th start and the k-th end belong to the same run.
    return rows, starts, ends


def close_gaps(
    rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, gap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join runs of the same row separated by at most ``gap`` days."""
    if rows.size == 0:
        return rows, starts, ends
    new = np.ones(rows.size, dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]) | (starts[1:] - ends[:-1] > gap)
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, rows.size - 1)
    return rows[first], starts[first], ends[last]


def bridge_unknown(high: np.ndarray, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ``high`` days that may cross unknown days, trimmed to start and end on a high day."""
    rows, starts, ends = runs(high | unknown)
    n = high.shape[1]
    cols = np.arange(n)[None, :]
    # Next high day at or after each column, and last high day at or before it (n / -1: none).
    next_high = np.where(high, cols, n)
    next_high = np.minimum.accumulate(next_high[:, ::-1], axis=1)[:, ::-1]
    prev_high = np.maximum.accumulate(np.where(high, cols, -1), axis=1)
    first = next_high[rows, starts]
    last = prev_high[rows, ends - 1]
    keep = first < ends
    return rows[keep], first[keep], last[keep] + 1


def run_sums(
    values: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of known values and number of known days inside each run."""
    known = ~np.isnan(values)
    zeros = np.zeros((values.shape[0], 1))
    csum = np.concatenate([zeros, np.cumsum(np.where(known, values, 0.0), axis=1)], axis=1)
    ccount = np.concatenate([zeros, np.cumsum(known, axis=1)], axis=1)
    return csum[rows, ends] - csum[rows, starts], ccount[rows, ends] - ccount[rows, starts]


def argmax_in_runs(values: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Column of the largest value inside each run (an empty array for no runs)."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.intp)
    length = int((ends - starts).max())
    offsets = np.arange(length)
    cols = np.minimum(starts[:, None] + offsets, ends[:, None] - 1)
    picked = np.nan_to_num(values[rows[:, None], cols], nan=-np.inf)
    return cols[np.arange(rows.size), np.argmax(picked, axis=1)]

def centred_sums(values: np.ndarray, first: int, count: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and number of known days in a centred window around columns ``first .. first+count-1``."""
    half = width // 2
    lo, hi = first - half, first + count - 1 + half
    block = values[:, lo:hi + 1].astype(float)
    known = ~np.isnan(block)
    csum = np.concatenate([np.zeros((block.shape[0], 1)), np.cumsum(np.where(known, block, 0.0), axis=1)], 1)
    ccount = np.concatenate([np.zeros((block.shape[0], 1)), np.cumsum(known, axis=1)], 1)
    return csum[:, width:] - csum[:, :-width], ccount[:, width:] - ccount[:, :-width]

