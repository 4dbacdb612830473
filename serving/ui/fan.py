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


def fan_chart(forecast: pd.DataFrame, history: pd.DataFrame | None, policy: dict[str, Any] | None) -> str:
    """Inline SVG of history (last 91 days), the 50/95/99% bands, the median and the mean forecast,
    with the safety stock and reorder point as horizontal lines when the series has a policy.

    Args:
        forecast: The series' canonical forecast rows.
        history: The series' sales rows ``date, units`` (None or empty: forecast only).
        policy: Its policy row (``safety_stock``, ``reorder_point``), or None.
    """
    fig = Figure(figsize=(9, 3.8))
    ax = fig.add_subplot()
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
    for name, color in (("safety_stock", "#2ca02c"), ("reorder_point", "#d62728")):
        value = (policy or {}).get(name)
        if value is not None and np.isfinite(float(value)):
            ax.axhline(float(value), color=color, linestyle=":", linewidth=1.4,
                       label=f"{name.replace('_', ' ')} {float(value):,.1f}")
    ax.set_ylabel("units per day (levels: units)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.autofmt_xdate()
    return to_svg(fig, "fan")
