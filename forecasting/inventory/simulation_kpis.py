"""KPIs of a policy simulation: per series, per segment and overall; table, JSON and chart outputs.

Definitions (sums over the series of a group, counting only days after each series' launch):

- stockout_rate: share of series-days out of stock (stock could not serve the day's demand, or was 0).
- stockout_events_per_sku_quarter: starts of out-of-stock spells per series per 91 days.
- cycle_service_level: share of replenishment cycles (receipt to next receipt, the open one at the
  end included) without unserved demand.
- fill_rate: units served / units demanded (unserved demand is lost).
- avg_inventory_units / avg_inventory_value: average end-of-day stock (value at unit cost).
- turnover: yearly cost of goods sold / average inventory value.
- carrying_cost_pct_revenue: holding rate x average inventory value x years / revenue, in %.
- days_of_inventory: average inventory value / cost of goods sold per day.
- holding_cost: holding rate / 365 x inventory value, summed over the days replayed.
- lost_margin: (unit price - unit cost) x units demanded and not served (lost sales).
- total_cost: holding_cost + lost_margin (the money a policy's stock and its stockouts cost).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from features.schema import SERIES_KEY

DAYS_PER_QUARTER = 91.3125


def series_kpis(
    keys: pd.DataFrame, policies: Sequence[str], acc: dict[str, np.ndarray], unit_cost: np.ndarray,
    unit_price: np.ndarray, holding_rate: float,
) -> pd.DataFrame:
    """One row per policy and series with the accumulated counters and money figures."""
    frames = []
    for i, policy in enumerate(policies):
        frame = keys[list(SERIES_KEY)].copy()
        frame.insert(0, "policy", policy)
        for name, values in acc.items():
            frame[name] = values[i]
        frame["inventory_value"] = frame["inventory"] * unit_cost  # sum over days of end-of-day value
        frame["revenue"] = frame["sales"] * unit_price
        frame["cogs"] = frame["sales"] * unit_cost
        frame["lost_margin"] = (frame["demand"] - frame["sales"]).clip(lower=0.0) * np.maximum(
            unit_price - unit_cost, 0.0)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _ratio(num: float, den: float, empty: float = float("nan")) -> float:
    return float(num / den) if den > 0 else empty


def _group_kpis(g: pd.DataFrame, holding_rate: float, days: int) -> dict[str, float]:
    avg_value = g["inventory_value"].sum() / days
    cogs_per_day = g["cogs"].sum() / days
    return {
        "n_series": float(len(g)),
        "stockout_rate": _ratio(g["oos_days"].sum(), g["active_days"].sum()),
        "stockout_events_per_sku_quarter": _ratio(g["oos_events"].sum(),
                                                  g["active_days"].sum() / DAYS_PER_QUARTER),
        "cycle_service_level": 1.0 - _ratio(g["short_cycles"].sum(), g["cycles"].sum(), 0.0),
        "fill_rate": _ratio(g["sales"].sum(), g["demand"].sum(), 1.0),
        "avg_inventory_units": g["inventory"].sum() / days,
        "avg_inventory_value": avg_value,
        "turnover": _ratio(cogs_per_day * 365.0, avg_value),
        "carrying_cost_pct_revenue": 100.0 * _ratio(holding_rate * avg_value * days / 365.0,
                                                    g["revenue"].sum()),
        "days_of_inventory": _ratio(avg_value, cogs_per_day),
        "holding_cost": holding_rate / 365.0 * g["inventory_value"].sum(),
        "lost_margin": float(g["lost_margin"].sum()),
        "total_cost": holding_rate / 365.0 * g["inventory_value"].sum() + float(g["lost_margin"].sum()),
    }


def summarise(series: pd.DataFrame, holding_rate: float, days: int) -> pd.DataFrame:
    """KPIs per ``policy`` and ``segment``: 'ALL', then each ABC class present."""
    rows = []
    for policy, group in series.groupby("policy", sort=False):
        rows.append({"policy": policy, "segment": "ALL", **_group_kpis(group, holding_rate, days)})
        for klass, sub in group.groupby("abc"):
            rows.append({"policy": policy, "segment": str(klass), **_group_kpis(sub, holding_rate, days)})
    return pd.DataFrame(rows)


def kpi_table(kpis: pd.DataFrame, title: str = "Policy simulation") -> Table:
    """A rich table of the KPIs (percentages shown as %)."""
    table = Table(title=title)
    for col in ("policy", "segment", "series", "stockout %", "events/sku/q", "cycle SL %", "fill %",
                "avg inv units", "avg inv value", "turnover", "carry % rev", "days inv"):
        table.add_column(col, justify="left" if col in ("policy", "segment") else "right")
    for r in kpis.to_dict(orient="records"):
        table.add_row(
            str(r["policy"]), str(r["segment"]), f"{int(r['n_series'])}", f"{100 * r['stockout_rate']:.2f}",
            f"{r['stockout_events_per_sku_quarter']:.2f}", f"{100 * r['cycle_service_level']:.1f}",
            f"{100 * r['fill_rate']:.1f}", f"{r['avg_inventory_units']:,.0f}",
            f"{r['avg_inventory_value']:,.0f}", f"{r['turnover']:.1f}",
            f"{r['carrying_cost_pct_revenue']:.2f}", f"{r['days_of_inventory']:.1f}",
        )
    return table


def write_json(kpis: pd.DataFrame, path: Path, meta: dict[str, object]) -> Path:
    """Write the KPIs and the run settings as JSON."""
    records = kpis.replace({np.nan: None}).to_dict(orient="records")
    path.write_text(json.dumps({"settings": meta, "kpis": records}, indent=2, default=str), encoding="utf-8")
    return path


def write_chart(kpis: pd.DataFrame, path: Path) -> Path:
    """PNG scatter of average inventory value against fill rate, one point per policy and segment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    overall = kpis[kpis["segment"] == "ALL"]
    axes[0].scatter(overall["avg_inventory_value"], 100 * overall["fill_rate"], s=80)
    for r in overall.to_dict(orient="records"):
        axes[0].annotate(str(r["policy"]), (r["avg_inventory_value"], 100 * r["fill_rate"]),
                         textcoords="offset points", xytext=(6, 4))
    axes[0].set(title="All series", xlabel="average inventory value", ylabel="fill rate %")
    by_class = kpis[kpis["segment"] != "ALL"]
    for policy, group in by_class.groupby("policy", sort=False):
        axes[1].scatter(group["avg_inventory_value"], 100 * group["fill_rate"], label=str(policy), s=60)
        for r in group.to_dict(orient="records"):
            axes[1].annotate(str(r["segment"]), (r["avg_inventory_value"], 100 * r["fill_rate"]),
                             textcoords="offset points", xytext=(5, 3), fontsize=8)
    axes[1].set(title="Per ABC class", xlabel="average inventory value", ylabel="fill rate %")
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Inventory value vs fill rate per policy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
