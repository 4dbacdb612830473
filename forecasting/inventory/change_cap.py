"""Adjust in small steps: cap the change of reorder point and safety stock between two published runs.

Seed rule: "do not double or halve safety stock in one move unless something huge changed". With
``rules.max_change_ratio = r`` a series' new reorder point stays within ``[old / r, old x r]`` of the
last published one (the order-up-to level moves with it, keeping the lot ``S - s``; the safety stock
is the reorder point minus expected demand). The cap is lifted, and the reason says why, when
something huge did change for the series: a spike window ahead (SEASONAL_HYBRID or a window in the
reasons), a volatility shift detected for the series, or its supplier slipped. Series without a
previous run (new, or first run) are not capped. The reason records what the uncapped figure was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.schema import SERIES_KEY
from forecasting.inventory.safety_stock import cap_change, order_decision


def _lifted(policies: pd.DataFrame, shifts: pd.DataFrame | None) -> tuple[np.ndarray, list[str]]:
    """Where the cap is lifted, and the reason for each series (empty where it is not)."""
    reasons = policies["reasons"].map(list)
    spike = (policies["policy"] == "SEASONAL_HYBRID").to_numpy() | reasons.map(
        lambda rs: any(r.startswith("spike window") for r in rs)).to_numpy()
    slip = reasons.map(lambda rs: any("slipped from" in r for r in rs)).to_numpy()
    shifted = np.zeros(len(policies), dtype=bool)
    if shifts is not None and not shifts.empty:
        keys = pd.MultiIndex.from_frame(shifts[list(SERIES_KEY)].astype(str))
        shifted = pd.MultiIndex.from_frame(policies[list(SERIES_KEY)].astype(str)).isin(keys)
    why = ["spike window ahead" if a else "supplier slipped" if b else "volatility shift" if c else ""
           for a, b, c in zip(spike, slip, shifted, strict=True)]
    return spike | slip | shifted, why


def limit_changes(
    policies: pd.DataFrame,
    previous: pd.DataFrame | None,
    max_ratio: float | None,
    *,
    shifts: pd.DataFrame | None = None,
    moq: np.ndarray | float = 0.0,
    pack_size: np.ndarray | float = 1.0,
) -> pd.DataFrame:
    """Policies whose reorder point moved at most ``max_ratio``-fold since ``previous``, with reasons.

    Args:
        policies: Output of :func:`forecasting.inventory.policy.compute_policies`.
        previous: The last published run's policies (``sku, channel, reorder_point``); None: no cap.
        max_ratio: Largest factor between two runs' reorder points (> 1); None: no cap.
        shifts: Volatility shifts (``sku, channel``) of this run: those series are not capped.
        moq: Minimum order quantity per row, to redo the order decision at the capped levels.
        pack_size: Pack size per row.

    Returns:
        A copy with ``reorder_point``, ``safety_stock``, ``order_up_to``, ``order_now``, ``order_qty``
        capped where needed, a ``capped`` column and a reason on every capped or lifted row.
    """
    out = policies.copy()
    out["capped"] = False
    if previous is None or previous.empty or max_ratio is None:
        return out
    prev = out[list(SERIES_KEY)].astype(str).merge(
        previous.assign(**{c: previous[c].astype(str) for c in SERIES_KEY})[[*SERIES_KEY, "reorder_point"]],
        on=list(SERIES_KEY), how="left")["reorder_point"].to_numpy(dtype=float)
    new = out["reorder_point"].to_numpy(dtype=float)
    capped = cap_change(new, prev, max_ratio)
    lifted, why = _lifted(out, shifts)
    moved = ~np.isclose(capped, new)
    apply = moved & ~lifted
    final = np.where(apply, capped, new)
    lot = out["order_up_to"].to_numpy(dtype=float) - new
    out["reorder_point"] = final
    out["safety_stock"] = out["safety_stock"].to_numpy(dtype=float) + (final - new)
    out["order_up_to"] = final + lot
    if "inventory_position" in out:
        now, qty = order_decision(final, final + lot, out["inventory_position"].to_numpy(dtype=float), moq,
                                  pack_size)
        out["order_now"], out["order_qty"] = now, qty
    out["capped"] = apply
    notes = []
    for rs, a, lift, m, p, n, w in zip(out["reasons"], apply, lifted, moved, prev, new, why, strict=True):
        rs = list(rs)
        if a:
            rs.append(f"reorder point capped at {max_ratio:g}x the last run's {p:.1f} (uncapped {n:.1f})")
        elif lift and m:
            rs.append(f"change cap lifted ({w}): reorder point {p:.1f} -> {n:.1f}")
        notes.append(rs)
    out["reasons"] = notes
    return out


__all__ = ["limit_changes"]
