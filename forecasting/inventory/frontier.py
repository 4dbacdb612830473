"""The inventory-service frontier of the classic formula, and every policy compared with it at equal fill.

A sweep of ``ALL_SAFETY_STOCK@<level>`` rows traces what the classic formula holds for each fill rate
it reaches. A policy is judged against that curve at its own fill rate: the frontier's inventory
value there is linearly interpolated between the two sweep points around it (extrapolated from the
nearest two, and flagged, outside the sweep), and the saving is ``1 - value / frontier value``. Total
cost (holding + lost margin, see :mod:`forecasting.inventory.simulation_kpis`) ranks every row,
the sweep included.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from forecasting.inventory.simulator import ALL_JIT, ALL_SAFETY_STOCK, BLENDED, CLASSIC_BY_CLASS

SWEEP_PREFIX = f"{ALL_SAFETY_STOCK}@"


def classic_frontier(kpis: pd.DataFrame, segment: str = "ALL") -> pd.DataFrame:
    """The sweep rows of one segment, ``level, fill_rate, avg_inventory_value``, by level."""
    rows = kpis[(kpis["segment"] == segment) & kpis["policy"].str.startswith(SWEEP_PREFIX)]
    out = rows.assign(level=rows["policy"].str.removeprefix(SWEEP_PREFIX).astype(float))
    return out[["level", "fill_rate", "avg_inventory_value", "total_cost"]].sort_values("level").reset_index(
        drop=True)


def frontier_value(frontier: pd.DataFrame, fill: float) -> tuple[float, bool]:
    """The classic frontier's inventory value at ``fill`` and whether it was extrapolated.

    Args:
        frontier: Output of :func:`classic_frontier` (two points or more).
        fill: Fill rate in [0, 1].

    Returns:
        ``(value, extrapolated)``; NaN when the sweep has fewer than two points.
    """
    pts = frontier.sort_values("fill_rate")
    x, y = pts["fill_rate"].to_numpy(float), pts["avg_inventory_value"].to_numpy(float)
    # Fill rate rises with the level; equal fills (float ties) keep the cheaper point.
    x, first = np.unique(x, return_index=True)
    y = np.minimum.reduceat(y, first) if len(y) else y
    if len(x) < 2:
        return float("nan"), True
    if x[0] <= fill <= x[-1]:
        return float(np.interp(fill, x, y)), False
    i = (0, 1) if fill < x[0] else (-2, -1)
    slope = (y[i[1]] - y[i[0]]) / (x[i[1]] - x[i[0]])
    return float(y[i[0]] + slope * (fill - x[i[0]])), True


def compare_to_frontier(kpis: pd.DataFrame, segment: str = "ALL") -> pd.DataFrame:
    """Every policy of ``segment`` against the classic frontier at its own fill rate, and by total cost.

    Returns:
        One row per policy: ``policy, fill_rate, cycle_service_level, stockout_rate,
        avg_inventory_value, frontier_value, saving_at_equal_fill, extrapolated, holding_cost,
        lost_margin, total_cost, cost_rank`` (1 = cheapest); the frontier columns are NaN without a
        sweep.
    """
    rows = kpis[kpis["segment"] == segment].copy()
    frontier = classic_frontier(kpis, segment)
    values = [frontier_value(frontier, f) if len(frontier) >= 2 else (float("nan"), True)
              for f in rows["fill_rate"]]
    rows["frontier_value"] = [v for v, _ in values]
    rows["extrapolated"] = [e for _, e in values]
    rows["saving_at_equal_fill"] = 1.0 - rows["avg_inventory_value"] / rows["frontier_value"]
    rows["cost_rank"] = rows["total_cost"].rank(method="min").astype("Int64")
    cols = ["policy", "fill_rate", "cycle_service_level", "stockout_rate", "avg_inventory_value",
            "frontier_value", "saving_at_equal_fill", "extrapolated", "holding_cost", "lost_margin",
            "total_cost", "cost_rank"]
    return rows[cols].reset_index(drop=True)


def class_service(kpis: pd.DataFrame, targets: Mapping[str, float],
                  policies: tuple[str, ...] = (BLENDED, CLASSIC_BY_CLASS)) -> pd.DataFrame:
    """Per ABC class: the target and each policy's realized cycle service, fill and the gap in points."""
    rows = []
    for klass, target in targets.items():
        for policy in policies:
            hit = kpis[(kpis["policy"] == policy) & (kpis["segment"] == klass)]
            if hit.empty:
                continue
            csl = float(hit["cycle_service_level"].iloc[0])
            rows.append({"policy": policy, "class": klass, "target": target, "cycle_service_level": csl,
                         "fill_rate": float(hit["fill_rate"].iloc[0]), "gap_points": 100 * (csl - target)})
    return pd.DataFrame(rows, columns=["policy", "class", "target", "cycle_service_level", "fill_rate",
                                       "gap_points"])


def frontier_table(comparison: pd.DataFrame, title: str = "Against the classic frontier") -> Table:
    """A rich table of :func:`compare_to_frontier`."""
    table = Table(title=title)
    for col in ("policy", "fill %", "cycle SL %", "stockout %", "avg inv value", "frontier at fill",
                "saving at equal fill", "holding", "lost margin", "total cost", "rank"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in comparison.to_dict(orient="records"):
        saving = "-" if pd.isna(r["saving_at_equal_fill"]) else (
            f"{100 * r['saving_at_equal_fill']:+.1f}%" + (" (extrap.)" if r["extrapolated"] else ""))
        frontier = "-" if pd.isna(r["frontier_value"]) else f"{r['frontier_value']:,.0f}"
        table.add_row(str(r["policy"]), f"{100 * r['fill_rate']:.2f}",
                      f"{100 * r['cycle_service_level']:.1f}",
                      f"{100 * r['stockout_rate']:.2f}", f"{r['avg_inventory_value']:,.0f}", frontier, saving,
                      f"{r['holding_cost']:,.0f}", f"{r['lost_margin']:,.0f}", f"{r['total_cost']:,.0f}",
                      "-" if pd.isna(r["cost_rank"]) else str(r["cost_rank"]))
    return table


def service_table(service: pd.DataFrame, title: str = "Cycle service per class: target vs realized") -> Table:
    """A rich table of :func:`class_service`."""
    table = Table(title=title)
    for col in ("policy", "class", "target %", "realized %", "gap pts", "fill %"):
        table.add_column(col, justify="left" if col in ("policy", "class") else "right")
    for r in service.to_dict(orient="records"):
        table.add_row(str(r["policy"]), str(r["class"]), f"{100 * r['target']:.0f}",
                      f"{100 * r['cycle_service_level']:.1f}", f"{r['gap_points']:+.1f}",
                      f"{100 * r['fill_rate']:.1f}")
    return table


def calibration_table(frame: pd.DataFrame, title: str = "Lead-time demand calibration") -> Table:
    """Per calibration group: PITs scored, how often realized totals fell under the planned quantile of
    each target before correction (``covered@t``), and the level planned at (``plan_level@t``)."""
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="left" if col == "group" else "right")
    for r in frame.to_dict(orient="records"):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()])
    return table


def write_frontier_chart(kpis: pd.DataFrame, path: Path) -> Path:
    """PNG: the classic frontier as a curve (inventory value vs fill), other policies as labelled points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overall = kpis[kpis["segment"] == "ALL"]
    frontier = classic_frontier(kpis)
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    if len(frontier):
        ax.plot(frontier["avg_inventory_value"], 100 * frontier["fill_rate"], "-o", color="0.45", ms=4,
                label="classic formula (ALL_SAFETY_STOCK sweep)")
        for r in frontier.to_dict(orient="records"):
            ax.annotate(f"{r['level']:g}", (r["avg_inventory_value"], 100 * r["fill_rate"]),
                        textcoords="offset points", xytext=(4, -10), fontsize=7, color="0.4")
    colours = {BLENDED: "tab:green", ALL_JIT: "tab:red", CLASSIC_BY_CLASS: "tab:blue",
               ALL_SAFETY_STOCK: "tab:gray"}
    for r in overall.to_dict(orient="records"):
        policy = str(r["policy"])
        if policy.startswith(SWEEP_PREFIX):
            continue
        x, y = r["avg_inventory_value"], 100 * r["fill_rate"]
        ax.scatter([x], [y], s=90, color=colours.get(policy, "tab:purple"), zorder=3)
        ax.annotate(policy, (x, y), textcoords="offset points", xytext=(8, 6), fontsize=9, weight="bold",
                    color=colours.get(policy, "tab:purple"))
    ax.set(title="Inventory value vs fill rate: the classic frontier and each policy",
           xlabel="average inventory value (at unit cost)", ylabel="fill rate %")
    ax.grid(alpha=0.3)
    if len(frontier):
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["calibration_table", "class_service", "classic_frontier", "compare_to_frontier", "frontier_table",
           "frontier_value", "service_table", "write_frontier_chart"]
