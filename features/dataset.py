"""The in-memory bundle of canonical tables that every model and engine reads."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from features.panel import Panel
from features.schema import SERIES_KEY


@dataclass
class Dataset:
    """Validated canonical tables.

    ``sales`` is complete: one row per series and day from the series' first row to the last date
    of the table, gaps filled with ``units = 0``; it carries a boolean ``censored`` column that is
    True on stockout days (``in_stock = 0``), whose units must not be used as demand. Dates are
    ``datetime64[ns]`` at midnight; ``sku`` and ``channel`` are categoricals of strings with sorted
    categories (a code per row: group them with ``observed=True``). Optional tables are None when
    absent. ``events`` and ``promotions`` may reach past the end of ``sales`` (known future).

    Attributes:
        sales: Completed daily sales, sorted by sku, channel, date.
        skus: SKU master data.
        suppliers: Supplier master data.
        receipts: Purchase-order receipts (measured lead times).
        events: Calendar events; ``channel`` empty or NaN means every channel.
        promotions: Planned and past promotions.
        inventory: Current stock positions.
        warnings: Non-fatal findings of validation (e.g. SKUs missing from ``skus``).
        stockout_runs: Zero runs censored as likely stockouts when ``sales`` had no ``in_stock``
            (see :mod:`features.stockouts`); None when the inference was off.
    """

    sales: pd.DataFrame
    skus: pd.DataFrame | None = None
    suppliers: pd.DataFrame | None = None
    receipts: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    promotions: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    stockout_runs: pd.DataFrame | None = None
    # The memoized panel and the sales frame it was built from (rebuilt if ``sales`` is replaced).
    _panel: tuple[pd.DataFrame, Panel] | None = field(default=None, init=False, repr=False, compare=False)
    # False on a truncation that could not share its parent's panel: it builds one per call instead of
    # keeping a second full matrix alive for as long as a backtest fold lasts.
    _keep_panel: bool = field(default=True, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # A pickled Dataset (sent to a worker) rebuilds its panel where it is needed, if at all.
        return {**self.__dict__, "_panel": None}

    @property
    def start_date(self) -> pd.Timestamp:
        """First date of ``sales``."""
        return pd.Timestamp(self.sales["date"].min())

    @property
    def end_date(self) -> pd.Timestamp:
        """Last date of ``sales`` (the forecast origin)."""
        return pd.Timestamp(self.sales["date"].max())

    def panel(self) -> Panel:
        """The sales as a :class:`~features.panel.Panel`, built on first use and kept.

        A truncation takes a view of its parent's panel where it can (see :meth:`truncate`) and builds
        one per call, without keeping it, where it cannot. Replacing ``sales`` rebuilds it;
        editing the ``sales`` frame in place does not (canonical tables are not edited in place).
        """
        if self._panel is not None and self._panel[0] is self.sales:
            return self._panel[1]
        panel = Panel.from_sales(self.sales)
        if self._keep_panel:
            self._panel = (self.sales, panel)
        return panel

    def series(self) -> pd.DataFrame:
        """The distinct ``(sku, channel)`` pairs, sorted, as strings (object columns)."""
        keys = self.sales[list(SERIES_KEY)].drop_duplicates().sort_values(list(SERIES_KEY))
        return keys.astype(dict.fromkeys(SERIES_KEY, object)).reset_index(drop=True)

    def truncate(self, cutoff: pd.Timestamp | str) -> Dataset:
        """The data as it was known at the end of ``cutoff``: for backtests.

        Sales after ``cutoff`` and receipts received after it are dropped; events and promotions stay
        (they are planned ahead), so do master data and inventory.
        """
        cutoff = pd.Timestamp(cutoff)
        # ``take`` and a new index make one copy of the rows, in a frame of its own (boolean indexing
        # and ``reset_index`` made two, about a gigabyte each at 30,000 series x 730 days).
        sales = self.sales.take(np.flatnonzero((self.sales["date"] <= cutoff).to_numpy()))
        sales.index = pd.RangeIndex(len(sales))
        receipts = self.receipts
        if receipts is not None:
            receipts = receipts[receipts["received_on"] <= cutoff].reset_index(drop=True)
        runs = self.stockout_runs
        reopened = False
        if runs is not None and len(runs):
            # An inferred run is only known once a sale ends it: runs ending after the cutoff were not
            # known at it, so their days are zero sales again (no peeking into the future).
            unknown = runs["end"] >= cutoff
            if unknown.any():
                from features.stockouts import run_rows

                sales.loc[run_rows(sales, runs[unknown]), "censored"] = False
                reopened = True
            runs = runs[~unknown].reset_index(drop=True)
        truncated = replace(self, sales=sales, receipts=receipts, warnings=list(self.warnings),
                            stockout_runs=runs)
        truncated._keep_panel = False
        if not reopened and len(sales) and self._keep_panel:
            truncated._share_panel(self.panel())
        return truncated

    def _share_panel(self, parent: Panel) -> None:
        """Take ``parent.until(end_date)`` (a view, no copy) as this truncation's panel where it is one.

        It is when every series of the parent has a row by the cutoff (the rows then match) and no
        inferred stockout run was reopened (the censored days match). A backtest otherwise holds one
        full series x day matrix per truncation (at 30,000 series x 730 days, 175 MB each).
        """
        view = parent.until(self.end_date)
        if (view.first_day < view.n_days).all() and view.n_days and view.dates[0] == self.start_date:
            self._panel = (self.sales, view)
            self._keep_panel = True
