"""The fan chart of one series: recent history, forecast quantile bands and its policy levels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.schema import quantile_column
from serving.reports.charts import to_svg

# Central bands drawn, widest first so narrower ones paint on top: (level, low q, high q, alpha).
BANDS = ((0.99, 0.005, 0.995, 0.18), (0.95, 0.025, 0.975, 0.28), (0.50, 0.25, 0.75, 0.45))
HISTORY_DAYS = 91


STOCK_LEVELS = (  # (policy column, label, colour): drawn as bars on their own axis, in units
    ("on_hand", "on hand", "#7f7f7f"),
    ("inventory_position", "stock position (on hand + on order)", "#bcbd22"),
    ("safety_stock", "safety stock", "#2ca02c"),
    ("reorder_point", "reorder point", "#d62728"),
    ("order_up_to", "order-up-to level", "#9467bd"),
)


def fan_chart(forecast: pd.DataFrame, history: pd.DataFrame | None, policy: dict[str, Any] | None) -> str:
    """Inline SVG: top, history (last 91 days), the 50/95/99% bands, the median and the mean forecast in
    units per day; below, on their own axis (units in stock, a different scale), the policy's safety
    stock, reorder point and order-up-to level beside the stock on hand and the stock position.

    Args:
        forecast: The series' canonical forecast rows.
        history: The series' sales rows ``date, units`` (None or empty: forecast only).
        policy: Its policy row, or None.
    """
    levels = [(label, float(v), color) for key, label, color in STOCK_LEVELS
              if (v := (policy or {}).get(key)) is not None and np.isfinite(float(v))]
    fig = Figure(figsize=(10, 5.6 if levels else 3.8))
    grid = fig.add_gridspec(2 if levels else 1, 1, height_ratios=[3, 1.6] if levels else [1], hspace=0.45)
    ax = fig.add_subplot(grid[0])
    dates = pd.to_datetime(forecast["date"])
    if history is not None and len(history):
        recent = history[history["date"] > history["date"].max() - pd.Timedelta(days=HISTORY_DAYS)]
        ax.plot(pd.to_datetime(recent["date"]), recent["units"].astype(float), color="#333", linewidth=1,
                label="history")
    for level, lo, hi, alpha in BANDS:
        lo_col, hi_col = quantile_column(lo), quantile_column(hi)
        if lo_col in forecast and hi_col in forecast:
            ax.fill_between(dates, forecast[lo_col].astype(float), forecast[hi_col].astype(float),
                            color="#1f77b4", alpha=alpha, linewidth=0, label=f"{level:.0%} interval")
    median = quantile_column(0.5)
    if median in forecast:
        ax.plot(dates, forecast[median].astype(float), color="#1f77b4", linewidth=1.4, label="median")
    ax.plot(dates, forecast["mean"].astype(float), color="#ff7f0e", linewidth=1, linestyle="--", label="mean")
    ax.set_ylabel("demand, units per day")
    ax.set_title("Demand: history and forecast", fontsize=9, loc="left")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for tick in ax.get_xticklabels():
        tick.set_rotation(20)
        tick.set_fontsize(8)
    if levels:
        stock = fig.add_subplot(grid[1])
        names = [label for label, _, _ in levels]
        values = [value for _, value, _ in levels]
        bars = stock.barh(names, values, color=[color for _, _, color in levels], height=0.6)
        for bar, value in zip(bars, values, strict=True):
            stock.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:,.1f}", va="center",
                       fontsize=7.5)
        stock.invert_yaxis()
        stock.set_xlabel("units in stock")
        stock.set_title("Stock levels of the policy (own scale)", fontsize=9, loc="left")
        stock.tick_params(labelsize=8)
        stock.set_xlim(min(0.0, *values) * 1.18, max(1.0, *values) * 1.18)
    return to_svg(fig, "fan")
