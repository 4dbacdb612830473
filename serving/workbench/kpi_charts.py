"""The realized-KPI trend chart: one panel per KPI, one line per policy, over the last quarters."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from serving.reports.charts import to_svg

PANELS = (
    ("stockout_events_per_sku", "stockout events per SKU-channel"),
    ("turnover", "inventory turns a year"),
    ("days_of_inventory", "days of inventory"),
    ("carrying_cost_pct", "carrying cost, % of revenue"),
)
COLORS = {"jit": "#1f77b4", "safety_stock": "#d62728", "seasonal_hybrid": "#2ca02c", "all": "#333333",
          "unplanned": "#999999"}


def kpi_trend_chart(groups: list[dict[str, Any]]) -> str:
    """Inline SVG of each KPI per quarter for every policy (all ABC classes together)."""
    frame = pd.DataFrame(groups)
    fig = Figure(figsize=(11, 5.2))
    if frame.empty:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "No realized KPIs yet", ha="center", va="center")
        return to_svg(fig, "kpi-trend")
    frame = frame[frame["abc"] == "all"].assign(quarter_end=lambda f: pd.to_datetime(f["quarter_end"]))
    for i, (column, title) in enumerate(PANELS):
        ax = fig.add_subplot(2, 2, i + 1)
        for policy, rows in frame.sort_values("quarter_end").groupby("policy"):
            ax.plot(rows["quarter_end"], rows[column].astype(float), marker="o", linewidth=1.5,
                    color=COLORS.get(str(policy).lower()), label=str(policy).replace("_", " ").lower())
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
        if i == 0:
            ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    return to_svg(fig, "kpi-trend")
