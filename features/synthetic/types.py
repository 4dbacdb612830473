"""The generated catalogue: canonical tables plus the ground truth that produced them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from features.schema import TABLES


@dataclass
class GroundTruth:
    """What the generator knows and a model or detector should find.

    Attributes:
        series: One row per SKU-channel: ``sku, channel, pattern`` (smooth / intermittent / lumpy),
            ``level`` (mean daily units before calendar effects), ``order_prob`` (lumpy: daily bulk
            order probability), ``noise_cv``, ``weekly_amp``, ``yearly_amp``, ``yearly_peak_doy``,
            ``trend`` (log growth per year), ``launch`` (first sales day), ``is_gift_set``,
            ``volatility_shift``.
        spikes: Gift-set spike windows per ``sku, channel, season``: ``start, peak, plateau_end, end``
            (dates), ``uplift`` (peak demand / baseline) and ``in_history`` (the peak lies inside the
            sales history after launch; later seasons are the spikes ahead).
        volatility_shifts: ``sku, channel, changed_at, cv_before, cv_after`` where the CVs are
            ``std(units - mean) / mean(mean)`` of the uncensored demand over each period (in
            expectation), plus ``noise_cv_before, noise_cv_after`` of the Gamma mixing.
        suppliers: ``supplier, promised_lead_time_days, origin, kind`` (domestic / import /
            unreliable), ``lead_time_mean, lead_time_sd`` (days, true), ``slippage_days`` (extra days
            for orders placed from ``slippage_from``), ``slippage_from`` and ``has_receipts``.
        promotions: Every promotion (past and planned) with ``expected_uplift`` (published),
            ``actual_uplift`` (true demand multiplier) and ``discount`` (price cut).
        event_effects: ``event, channel, offset_days, multiplier``: the true demand multiplier on the
            day ``offset_days`` after each event (channel empty = every channel).
        mean: Optional ``sku, channel, date, mean, demand`` aligned with ``sales``: the true daily mean
            before noise and the uncensored demand (sales are lower on stockout days).
        meta: Generator parameters and summary counts.
    """

    series: pd.DataFrame
    spikes: pd.DataFrame
    volatility_shifts: pd.DataFrame
    suppliers: pd.DataFrame
    promotions: pd.DataFrame
    event_effects: pd.DataFrame
    mean: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    FRAMES: ClassVar[tuple[str, ...]] = (
        "series", "spikes", "volatility_shifts", "suppliers", "promotions", "event_effects", "mean",
    )


@dataclass
class Catalogue:
    """A synthetic catalogue.

    Attributes:
        tables: The seven canonical tables by name (columns exactly as in ``features.schema.TABLES``).
        truth: The ground truth behind them.
    """

    tables: dict[str, pd.DataFrame]
    truth: GroundTruth

    @property
    def sales(self) -> pd.DataFrame:
        """The ``sales`` table."""
        return self.tables["sales"]

    def summary(self) -> dict[str, int]:
        """Row counts per table and the counts of each simulated phenomenon."""
        out = {f"{name}_rows": len(frame) for name, frame in self.tables.items()}
        series = self.truth.series
        out["series"] = len(series)
        out["intermittent_series"] = int((series["pattern"] != "smooth").sum())
        out["gift_set_skus"] = int(series.loc[series["is_gift_set"], "sku"].nunique())
        late = series["launch"] > self.sales["date"].min()
        out["late_launch_skus"] = int(series.loc[late, "sku"].nunique())
        out["volatility_shifts"] = len(self.truth.volatility_shifts)
        out["stockout_days"] = int((self.sales["in_stock"] == 0).sum())
        return out


def table_columns(name: str) -> list[str]:
    """Columns the generator writes for table ``name``: every column of its spec, in spec order."""
    return list(TABLES[name].columns)
