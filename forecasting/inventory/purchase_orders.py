"""Purchase-order proposals: the published order advice grouped into one order per supplier and date.

The weekly job publishes, per SKU-channel, a reorder point ``s``, an order-up-to level ``S`` and the
stock position it saw. A planner does not send one order per channel: the channels of a SKU share the
supplier's delivery, so this module

1. takes each SKU-channel's stock position (the published one, or a fresher ``inventory`` table),
2. keeps the channels whose position is at or below ``s`` (the policy's "order now"),
3. adds up their needs ``S - position`` per SKU and rounds the sum ONCE, up to the SKU's MOQ and
   whole packs (:func:`forecasting.inventory.safety_stock.round_order`, the project's one rounding
   rule): rounding per channel and then adding would order a MOQ per channel,
4. groups the lines per supplier and order date, with the expected arrival from the measured lead
   time (mean, and the 90th percentile as "late by"), the line and order values at unit cost, and
   the reasons of every line in words.

Everything is vectorised over the policy table (10,000 SKU-channels in milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import Dataset
from forecasting.inventory.rules import SEASONAL_HYBRID
from forecasting.inventory.safety_stock import round_order

NO_SUPPLIER = "(no supplier)"
LINE_COLUMNS = [
    "supplier", "order_date", "sku", "channels", "need_units", "order_qty", "moq", "pack_size",
    "unit_cost", "line_value", "lead_time_days", "expected_arrival", "latest_arrival", "on_hand",
    "on_order", "reorder_point", "order_up_to", "channel_advice_qty", "reasons",
]
ORDER_COLUMNS = ["supplier", "order_date", "expected_arrival", "latest_arrival", "n_lines", "total_units",
                 "total_value", "lines_without_cost"]
STOCK_COLUMNS = ("on_hand", "on_order", "backorders")


class NoInventoryError(ValueError):
    """The stock positions are unknown, so no order can be proposed."""


NO_INVENTORY_FIX = (
    "Fix: add an inventory table (inventory.csv with columns sku, channel, on_hand and optionally "
    "on_order) to the data directory and run `blendcast train` again, or pass it now with "
    "`blendcast orders --data DIR` (the folder holding inventory.csv)."
)


@dataclass(frozen=True)
class OrderProposal:
    """Proposed purchase orders.

    Attributes:
        orders: One row per supplier and order date (:data:`ORDER_COLUMNS`).
        lines: One row per SKU of each order (:data:`LINE_COLUMNS`); ``channels`` and ``reasons`` are
            lists of str.
        n_series: SKU-channels considered.
        n_due: SKU-channels at or below their reorder point with something to order.
    """

    orders: pd.DataFrame
    lines: pd.DataFrame
    n_series: int
    n_due: int

    def lines_of(self, supplier: str) -> pd.DataFrame:
        """The lines of ``supplier``'s order(s)."""
        return self.lines[self.lines["supplier"] == supplier]


def order_date(as_of: str | None, planned: pd.Timestamp, field: str = "as_of",
               run: str = "the run") -> pd.Timestamp:
    """The order date asked for (not before the planning date), or the planning date.

    Args:
        as_of: The date asked for; None or empty: the planning date.
        planned: The planning date of the published run.
        field: How the caller names the option in messages (``--as-of`` on the CLI).
        run: How the messages name the run.

    Raises:
        ValueError: An unreadable date or one before the planning date (the message names the fix).
    """
    planned = pd.Timestamp(planned).normalize()
    if not as_of:
        return planned
    try:
        date = pd.Timestamp(as_of).normalize()
    except ValueError:
        raise ValueError(f"The '{field}' must be a date like 2025-06-30. Got {as_of!r}.") from None
    if date < planned:
        raise ValueError(f"The '{field}' {date.date()} is before {run}'s planning date {planned.date()}: "
                         "orders cannot be placed in the past. Fix: give a date on or after it, or leave it "
                         "out.")
    return date


def _num(frame: pd.DataFrame, column: str, default: float) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[column], errors="coerce").fillna(default).to_numpy(dtype=float)


def check_inventory(inventory: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """Validate an inventory table against the planned SKU-channels.

    Args:
        inventory: ``sku, channel, on_hand`` and optionally ``on_order``, ``backorders``.
        known: ``sku, channel`` of the published policies.

    Returns:
        ``sku, channel, on_hand, on_order, backorders`` as str / float.

    Raises:
        ValueError: Naming the column, the offending rows and the fix (missing columns, values that
            are not finite non-negative numbers, SKU-channels the run did not plan, duplicates).
    """
    missing = [c for c in ("sku", "channel", "on_hand") if c not in inventory]
    if missing:
        raise ValueError(f"The inventory table lacks the column(s) {missing}. "
                         "Fix: give sku, channel, on_hand (and on_order) per row.")
    out = pd.DataFrame({"sku": inventory["sku"].astype(str), "channel": inventory["channel"].astype(str)})
    for col in STOCK_COLUMNS:
        raw = inventory[col] if col in inventory else pd.Series(0.0, index=inventory.index)
        values = pd.to_numeric(raw, errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float)) | (values.to_numpy(dtype=float) < 0)
        if bad.any():
            rows = [f"{s}/{c}={v!r}" for s, c, v in zip(out["sku"][bad], out["channel"][bad], raw[bad],
                                                         strict=True)][:5]
            raise ValueError(f"The inventory table, column '{col}': {int(bad.sum())} row(s) are not a "
                             f"number >= 0, e.g. {rows}. Fix: give stock as non-negative units.")
        out[col] = values.to_numpy(dtype=float)
    dup = out.duplicated(["sku", "channel"], keep=False)
    if dup.any():
        rows = sorted({f"{s}/{c}" for s, c in zip(out["sku"][dup], out["channel"][dup], strict=True)})[:5]
        raise ValueError(f"The inventory table has {int(dup.sum())} rows for the same sku/channel, "
                         f"e.g. {rows}. Fix: one row per SKU-channel.")
    planned = pd.MultiIndex.from_frame(known[["sku", "channel"]].astype(str))
    unknown = ~pd.MultiIndex.from_frame(out[["sku", "channel"]]).isin(planned)
    if unknown.any():
        rows = [f"{s}/{c}" for s, c in zip(out["sku"][unknown], out["channel"][unknown], strict=True)][:5]
        raise ValueError(f"The inventory table has {int(unknown.sum())} SKU-channel(s) the published run did "
                         f"not plan, e.g. {rows}. Fix: check the codes, or add their sales and re-run "
                         "`blendcast train`.")
    return out


def stock_positions(policies: pd.DataFrame, inventory: pd.DataFrame | None = None) -> pd.DataFrame:
    """``on_hand, on_order, backorders`` aligned with ``policies``: a fresh table wins over the published one.

    Raises:
        NoInventoryError: When no stock is known (the run had no inventory table and none is given).
    """
    if inventory is not None:
        inv = check_inventory(inventory, policies)
        keys = policies[["sku", "channel"]].astype(str)
        merged = keys.merge(inv, on=["sku", "channel"], how="left")
        known = merged["on_hand"].notna().to_numpy()
        out = merged[list(STOCK_COLUMNS)].fillna(0.0)
    else:
        if "stock_known" in policies:
            known = policies["stock_known"].fillna(False).astype(bool).to_numpy()
        else:  # runs published before the flag: stock is known if any position was not zero
            any_stock = (_num(policies, "on_hand", 0.0) != 0) | (_num(policies, "on_order", 0.0) != 0)
            known = np.full(len(policies), bool(any_stock.any()))
        out = pd.DataFrame({col: _num(policies, col, 0.0) for col in STOCK_COLUMNS})
    if len(policies) and not known.any():
        raise NoInventoryError("The published run was planned without an inventory table, so the stock on "
                               "hand and on order is unknown and no purchase order can be proposed. "
                               + NO_INVENTORY_FIX)
    out = out.reset_index(drop=True)
    out["stock_known"] = known
    return out


def _channel_reasons(frame: pd.DataFrame) -> list[str]:
    """One sentence per due SKU-channel."""
    out = []
    hybrid = frame["policy"].astype(str).str.upper().eq(SEASONAL_HYBRID).to_numpy()
    spike = hybrid & frame["buffer_active"].to_numpy()
    for ch, pos, rop, pol, sp in zip(frame["channel"].astype(str), frame["position"], frame["reorder_point"],
                                     frame["policy"].astype(str), spike, strict=True):
        text = (f"{ch}: stock position {pos:,.0f} is at or below the reorder point {rop:,.0f} "
                f"({pol.replace('_', ' ').lower()} policy)")
        out.append(text + ("; a demand spike window is ahead" if sp else ""))
    return out


def with_order_inputs(policies: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """The policy rows plus what ordering needs from master data: ``unit_cost``, ``moq``, ``pack_size``
    (kept when already there), ``category`` and ``stock_known`` (the SKU-channel has a row in the
    inventory table).

    The weekly job publishes these with the policies so the API can propose orders from the run alone.
    """
    out = policies.copy()
    skus = out["sku"].astype(str)
    if data.skus is not None:
        master = data.skus.assign(sku=data.skus["sku"].astype(str)).drop_duplicates("sku").set_index("sku")
        for col, default in (("unit_cost", np.nan), ("moq", 0.0), ("pack_size", 1.0)):
            if col not in out and col in master:
                out[col] = pd.to_numeric(skus.map(master[col]), errors="coerce").fillna(default).to_numpy()
        if "category" not in out and "category" in master:  # campaigns can name a category
            out["category"] = skus.map(master["category"]).astype(object).to_numpy()
    known = np.zeros(len(out), dtype=bool)
    if data.inventory is not None:
        inv = pd.MultiIndex.from_frame(data.inventory[["sku", "channel"]].astype(str))
        known = pd.MultiIndex.from_arrays([skus, out["channel"].astype(str)]).isin(inv)
    out["stock_known"] = known
    return out


def propose_orders(
    policies: pd.DataFrame,
    order_date: pd.Timestamp | str,
    *,
    inventory: pd.DataFrame | None = None,
    supplier: str | None = None,
) -> OrderProposal:
    """Purchase orders due on ``order_date``, one per supplier, one line per SKU.

    Args:
        policies: Published policy rows (``sku, channel, supplier, policy, reorder_point, order_up_to,
            lead_time_mean``; optionally ``lead_time_p90, on_hand, on_order, backorders, moq, pack_size,
            unit_cost, buffer_active, stock_known``).
        order_date: The day the orders are placed.
        inventory: A fresher ``inventory`` table; None uses the positions the run was planned with.
        supplier: Only this supplier's order.

    Returns:
        The proposal (empty frames when nothing is due).

    Raises:
        NoInventoryError: No stock position is known.
        ValueError: A bad inventory table or an unknown supplier (the message names the fix).
    """
    order_date = pd.Timestamp(order_date).normalize()
    pol = policies.reset_index(drop=True)
    stock = stock_positions(pol, inventory)
    suppliers = (pol["supplier"].astype(object) if "supplier" in pol else pd.Series([None] * len(pol)))
    suppliers = suppliers.where(suppliers.notna() & (suppliers.astype(str) != ""), NO_SUPPLIER).astype(str)
    if supplier is not None and supplier not in set(suppliers):
        names = sorted(set(suppliers))
        raise ValueError(f"Unknown supplier {supplier!r}. The run's suppliers are {names[:20]}. "
                         "Fix: use one of them (or leave the option out for every supplier).")
    rop, up_to = _num(pol, "reorder_point", 0.0), _num(pol, "order_up_to", 0.0)
    up_to = np.maximum(up_to, rop)
    position = (stock["on_hand"] + stock["on_order"] - stock["backorders"]).to_numpy()
    moq, pack = _num(pol, "moq", 0.0), _num(pol, "pack_size", 1.0)
    need = np.where(position <= rop, up_to - position, 0.0)
    due = stock["stock_known"].to_numpy() & (need > 0)
    if supplier is not None:
        due &= (suppliers == supplier).to_numpy()
    frame = pd.DataFrame({
        "supplier": suppliers, "sku": pol["sku"].astype(str), "channel": pol["channel"].astype(str),
        "policy": pol["policy"].astype(str) if "policy" in pol else "",
        "buffer_active": pol["buffer_active"].fillna(False).astype(bool) if "buffer_active" in pol else False,
        "need": need, "channel_advice": round_order(need, moq, pack), "moq": moq, "pack_size": pack,
        "unit_cost": _num(pol, "unit_cost", np.nan), "lead": _num(pol, "lead_time_mean", 0.0),
        "lead_p90": _num(pol, "lead_time_p90", np.nan), "on_hand": stock["on_hand"],
        "on_order": stock["on_order"], "position": position, "reorder_point": rop, "order_up_to": up_to,
    })[due]
    if frame.empty:
        return OrderProposal(pd.DataFrame(columns=ORDER_COLUMNS), pd.DataFrame(columns=LINE_COLUMNS),
                             len(pol), 0)
    lines = _lines(frame, order_date)
    return OrderProposal(_orders(lines), lines, len(pol), int(due.sum()))


def _lines(frame: pd.DataFrame, order_date: pd.Timestamp) -> pd.DataFrame:
    frame = frame.assign(reason=_channel_reasons(frame))
    groups = frame.groupby(["supplier", "sku"], sort=True, observed=True)
    lines = groups.agg(
        need_units=("need", "sum"), channel_advice_qty=("channel_advice", "sum"), moq=("moq", "first"),
        pack_size=("pack_size", "first"), unit_cost=("unit_cost", "first"), lead=("lead", "max"),
        lead_p90=("lead_p90", "max"), on_hand=("on_hand", "sum"), on_order=("on_order", "sum"),
        reorder_point=("reorder_point", "sum"), order_up_to=("order_up_to", "sum"),
    ).reset_index()
    lines["channels"] = groups["channel"].agg(list).to_numpy()
    lines["order_qty"] = round_order(lines["need_units"].to_numpy(), lines["moq"].to_numpy(),
                                     lines["pack_size"].to_numpy())
    lines["line_value"] = lines["order_qty"] * lines["unit_cost"]
    lines["order_date"] = order_date
    lines["lead_time_days"] = lines["lead"]
    lead_days = np.ceil(lines["lead"].to_numpy())
    lines["expected_arrival"] = order_date + pd.to_timedelta(lead_days, unit="D")
    late = np.ceil(lines["lead_p90"].fillna(lines["lead"]).to_numpy())
    lines["latest_arrival"] = order_date + pd.to_timedelta(np.maximum(late, lead_days), unit="D")
    reasons: list[list[str]] = []
    cols = (lines[c].to_numpy(dtype=float) for c in ("need_units", "order_qty", "moq", "pack_size"))
    for why, need, qty, moq, pack in zip(groups["reason"].agg(list), *cols, strict=True):
        extra = [_rounding_reason(need, qty, moq, pack)] if qty > need + 1e-9 else []
        reasons.append([*why, *extra])
    lines["reasons"] = reasons
    return lines[LINE_COLUMNS].reset_index(drop=True)


def _rounding_reason(need: float, qty: float, moq: float, pack: float) -> str:
    parts = []
    if moq > need:
        parts.append(f"the minimum order quantity {moq:,.0f}")
    if pack > 1:
        parts.append(f"whole packs of {pack:,.0f}")
    return f"rounded up from {need:,.1f} to {qty:,.0f} units for " + " and ".join(parts or ["whole units"])


def _orders(lines: pd.DataFrame) -> pd.DataFrame:
    grouped = lines.groupby(["supplier", "order_date"], sort=True)
    orders = grouped.agg(
        expected_arrival=("expected_arrival", "max"), latest_arrival=("latest_arrival", "max"),
        n_lines=("sku", "size"), total_units=("order_qty", "sum"),
        total_value=("line_value", lambda v: float(np.nansum(v))),
        lines_without_cost=("line_value", lambda v: int(v.isna().sum())),
    ).reset_index()
    return orders[ORDER_COLUMNS]


def proposal_records(proposal: OrderProposal) -> list[dict[str, Any]]:
    """The orders with their lines nested, as JSON-ready dicts (dates as ISO text, NaN as None)."""
    def clean(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            return value.date().isoformat()
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value

    by_order: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for rec in proposal.lines.to_dict("records"):
        line = {str(k): clean(v) for k, v in rec.items() if k not in ("supplier", "order_date")}
        by_order.setdefault((rec["supplier"], rec["order_date"]), []).append(line)
    out = []
    for rec in proposal.orders.to_dict("records"):
        order = {str(k): clean(v) for k, v in rec.items()}
        order["lines"] = by_order.get((rec["supplier"], rec["order_date"]), [])
        out.append(order)
    return out


__all__ = [
    "LINE_COLUMNS",
    "NO_SUPPLIER",
    "ORDER_COLUMNS",
    "NoInventoryError",
    "OrderProposal",
    "check_inventory",
    "proposal_records",
    "propose_orders",
    "stock_positions",
    "with_order_inputs",
]
