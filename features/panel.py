"""The one series x day panel of demand that every model, detector and replay reads.

A :class:`Panel` is the sales of a :class:`~features.dataset.Dataset` as a dense ``(n_series, n_days)``
float64 array on a calendar of consecutive days, rows in ``Dataset.series()`` order. It is built once
per Dataset (:meth:`Dataset.panel <features.dataset.Dataset.panel>` memoizes it) and sliced by date
without copying: :meth:`Panel.until`, :meth:`Panel.window` and :meth:`Panel.last` return panels whose
``units`` are numpy views of the parent's. The arrays are read-only, so a consumer that needs to write
(fill censored days, mask promotions) takes its own copy and the shared panel stays intact.

Censored (stockout) days and days outside a series' rows are NaN: a stockout day says what was sold,
not what was wanted, so it is never read as demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True, eq=False)
class Panel:
    """Daily demand of every series on one calendar of consecutive days.

    Attributes:
        keys: ``sku, channel`` of each row, in ``Dataset.series()`` order (sorted).
        dates: The day of each column (consecutive days).
        units: Read-only float64 array ``(n_series, n_days)``; NaN on censored (stockout) days and
            outside the series' rows (before its first row, after its last).
        first_day: Column of each series' first row inside the panel: 0 if the series started
            before the first column, ``n_days`` if it has no row inside the panel.
        last_day: Column of each series' last row inside the panel: ``n_days - 1`` if it goes on past
            the last column, -1 if it has no row inside the panel.
    """

    keys: pd.DataFrame
    dates: pd.DatetimeIndex
    units: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray

    @classmethod
    def from_sales(cls, sales: pd.DataFrame) -> Panel:
        """Pivot a Dataset's ``sales`` into a panel from its first date to its last.

        Prefer ``Dataset.panel()``, which builds it once per Dataset.
        """
        keys, row, col = sales_cells(sales)
        n_days = int(col.max()) + 1 if len(col) else 0
        start = sales["date"].min()
        dates = pd.date_range(start, periods=n_days, freq="D") if n_days else pd.DatetimeIndex([])
        units = sales["units"].to_numpy(dtype=float, na_value=np.nan).copy()
        if "censored" in sales:
            units[sales["censored"].fillna(False).to_numpy(dtype=bool)] = np.nan
        flat = row * n_days + col
        values = np.full((len(keys), n_days), np.nan)
        values.ravel()[flat] = units
        exists = np.zeros(values.shape, dtype=bool)
        exists.ravel()[flat] = True
        first_day = np.full(len(keys), n_days, dtype=np.int64)
        last_day = np.full(len(keys), -1, dtype=np.int64)
        if n_days:
            has_row = exists.any(axis=1)
            first_day[has_row] = exists.argmax(axis=1)[has_row]
            last_day[has_row] = n_days - 1 - exists[:, ::-1].argmax(axis=1)[has_row]
        values.flags.writeable = False
        return cls(keys=keys, dates=dates, units=values, first_day=first_day, last_day=last_day)

    @property
    def n_series(self) -> int:
        """Number of series (rows)."""
        return int(self.units.shape[0])

    @property
    def n_days(self) -> int:
        """Number of days (columns)."""
        return int(self.units.shape[1])

    @property
    def censored(self) -> np.ndarray:
        """Boolean ``(n_series, n_days)``: the day belongs to the series but its demand is unknown."""
        cols = np.arange(self.n_days)[None, :]
        return np.isnan(self.units) & (cols >= self.first_day[:, None]) & (cols <= self.last_day[:, None])

    def first_sale_day(self) -> np.ndarray:
        """Column of each series' first day with units > 0 (``n_days`` if it never sold)."""
        sold = np.nan_to_num(self.units, nan=0.0) > 0
        return np.where(sold.any(axis=1), sold.argmax(axis=1), self.n_days)

    def column(self, date: pd.Timestamp | str) -> int:
        """Column index of ``date`` (may fall outside ``0..n_days-1``)."""
        return int((pd.Timestamp(date) - self.dates[0]).days)

    def window(self, start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None) -> Panel:
        """The days from ``start`` to ``end`` (both inclusive, clipped to the panel), without copying.

        Every series keeps its row (an all-NaN row if it has no day in the window), so row ``i`` is
        the same series in the window as in the panel.

        Args:
            start: First day; None means the panel's first.
            end: Last day; None means the panel's last.

        Returns:
            A panel whose ``units`` is a view of this one's.
        """
        n_days = self.n_days
        lo = 0 if start is None or not n_days else min(max(self.column(start), 0), n_days)
        hi = n_days if end is None or not n_days else min(max(self.column(end) + 1, lo), n_days)
        n = hi - lo
        first, last = self.first_day - lo, self.last_day - lo
        outside = (first >= n) | (last < 0)
        return Panel(
            keys=self.keys,
            dates=self.dates[lo:hi],
            units=self.units[:, lo:hi],
            first_day=np.where(outside, n, np.maximum(first, 0)),
            last_day=np.where(outside, -1, np.minimum(last, n - 1)),
        )

    def until(self, cutoff: pd.Timestamp | str) -> Panel:
        """The days up to and including ``cutoff``, without copying (see :meth:`window`).

        The units equal those of ``data.truncate(cutoff).panel()`` on the series that have a row by
        then, except on zero runs censored by stockout inference (``Dataset.stockout_runs``) that
        end after the cutoff: the truncation does not know them yet (they are zeros there), this
        panel does (NaN). Backtests that must not see it use the truncated Dataset's panel.
        """
        return self.window(None, cutoff)

    def last(self, days: int) -> Panel:
        """The last ``days`` days (all of them if the panel is shorter), without copying."""
        if days < 1:
            raise ValueError(f"The 'days' of a panel window must be >= 1. Got {days}.")
        return self.window(self.dates[-1] - pd.Timedelta(days=int(days) - 1) if self.n_days else None)


def _key_values(column: pd.Series) -> np.ndarray:
    """Values of a key column that compare as its strings do: the codes of a categorical whose
    categories are sorted (as ``Dataset.sales`` has them; no 20-million-row object array), else the
    strings themselves."""
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.is_monotonic_increasing:
        return column.cat.codes.to_numpy()
    return column.to_numpy(dtype=object)


def _key_strings(column: pd.Series, values: np.ndarray) -> np.ndarray:
    """``values`` of :func:`_key_values` as the key strings (an object array)."""
    if values.dtype == object:
        return values
    return np.asarray(column.cat.categories, dtype=object)[values]


def sales_cells(sales: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The series keys (as ``Dataset.series()``), and the panel row and day column of every sales row.

    ``Dataset.sales`` is sorted by sku, channel, date, so series are runs of rows: finding the run starts
    is a few vectorised comparisons, where hashing tens of millions of string pairs takes many seconds.
    Unsorted input falls back to integer codes of the sorted distinct values.

    Returns:
        ``(keys, row, col)``: keys with object columns ``sku, channel``; int64 row and column (days
        since the first sales date) per sales row.
    """
    if sales.empty:
        return pd.DataFrame({"sku": pd.Series(dtype=object), "channel": pd.Series(dtype=object)}), \
            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    stamps = sales["date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    col = (stamps - stamps.min()) // _DAY_NS
    sku, channel = _key_values(sales["sku"]), _key_values(sales["channel"])
    start = np.ones(len(sales), dtype=bool)
    start[1:] = (sku[1:] != sku[:-1]) | (channel[1:] != channel[:-1])
    ks, kc = sku[start], channel[start]
    increasing = (ks[1:] > ks[:-1]) | ((ks[1:] == ks[:-1]) & (kc[1:] > kc[:-1]))
    if increasing.all():
        keys = pd.DataFrame(
            {"sku": _key_strings(sales["sku"], ks), "channel": _key_strings(sales["channel"], kc)}
        )
        return keys, np.cumsum(start) - 1, col
    sku, channel = sales["sku"].to_numpy(dtype=object), sales["channel"].to_numpy(dtype=object)
    sku_code, skus = _sorted_codes(sku)
    channel_code, channels = _sorted_codes(channel)
    pair = sku_code * len(channels) + channel_code
    if len(skus) * len(channels) <= 50_000_000:  # a dense lookup table beats sorting the pairs
        present = np.zeros(len(skus) * len(channels), dtype=bool)
        present[pair] = True
        pairs = np.flatnonzero(present)
        row = (np.cumsum(present) - 1)[pair]
    else:  # a huge sparse sku x channel grid: sort instead
        pairs, row = np.unique(pair, return_inverse=True)
    keys = pd.DataFrame({"sku": skus[pairs // len(channels)], "channel": channels[pairs % len(channels)]})
    return keys, row.astype(np.int64), col


def spread(sales: pd.DataFrame, column: str) -> np.ndarray:
    """A column of a Dataset's ``sales`` on the grid of its panel (NaN where a series has no row).

    For per-day covariates of the sales rows (price, promotion flag) that a consumer lines up with
    the units.
    """
    keys, row, col = sales_cells(sales)
    out = np.full((len(keys), int(col.max()) + 1 if len(col) else 0), np.nan)
    out[row, col] = sales[column].to_numpy(dtype=float, na_value=np.nan)
    return out


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``values`` that follow the sorted order of the distinct values."""
    codes, found = pd.factorize(values, sort=False)  # sorting 10^7 strings is the slow part; skip it
    uniques = np.asarray(found, dtype=object)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


__all__ = ["Panel", "sales_cells", "spread"]
