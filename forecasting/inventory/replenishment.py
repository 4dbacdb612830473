"""Order advice for one or many SKU-channels from a published policy row and a stock position.

The weekly pipeline publishes one policy row per series: the policy and its reasons, the reorder
point ``s``, order-up-to ``S`` and, when available, the quantile grid of demand over the protection
interval (lead time + review period): ``ltd_levels`` / ``ltd_quantiles``, with ``expected_demand``,
``review_demand`` (expected demand over the review period) and ``daily_mean``. This module answers
"what should I order now?" for the IMS's current stock, optionally at another service level or lead
time, without re-running the forecast.

- No override: the published ``s`` and ``S`` are used as they are (``source="published"``).
- Service-level override: ``s`` is read from the grid by linear interpolation between levels
  (``source="grid"``); it then is a distribution quantile whatever the policy was.
- Lead-time override: an APPROXIMATION. The grid describes demand over ``P = L + R`` days (``L`` the
  published mean lead time, ``R = review_demand / daily_mean``). For ``P' = L' + R`` the mean is
  scaled by ``P'/P`` and each quantile's distance from the mean by ``sqrt(P'/P)`` (independent days);
  the published safety stock is rescaled the same way when no service level is given. It ignores
  how the lead-time variance and the weekly pattern change, so re-plan with the pipeline for big
  changes (``source="grid_rescaled"``).
- Overrides without a published grid cannot be honoured: the published figures are returned with
  ``source="published_fallback"`` and a note.

Order quantity: ``S - IP`` with ``IP = on_hand + on_order - backorders`` when ``IP <= s``, rounded up
to the MOQ and then to whole packs (``moq``/``pack_size`` of the row; 0 and 1 when absent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from forecasting.inventory.safety_stock import order_decision

Source = Literal["published", "grid", "grid_rescaled", "published_fallback"]


@dataclass(frozen=True)
class StockPosition:
    """The IMS's stock of one SKU-channel and optional what-if overrides.

    Attributes:
        on_hand: Units on the shelf.
        on_order: Units ordered and not yet received.
        backorders: Units owed to customers.
        service_level: Cycle-service target to plan at instead of the published one, in (0, 1).
        lead_time_days: Mean lead time to plan with instead of the measured one, > 0 days.
    """

    on_hand: float
    on_order: float = 0.0
    backorders: float = 0.0
    service_level: float | None = None
    lead_time_days: float | None = None


@dataclass(frozen=True)
class Recommendation:
    """The order advice for one SKU-channel.

    Attributes:
        service_level: The target planned at.
        lead_time_days: The mean lead time planned with.
        expected_demand: Mean demand over lead time + review period.
        demand_quantiles: Quantiles of that demand by level (empty without a published grid).
        safety_stock: ``reorder_point - expected_demand``.
        reorder_point: ``s``: order when the inventory position is at or below it.
        order_up_to: ``S``: an order brings the position up to it.
        inventory_position: ``on_hand + on_order - backorders``.
        order_now: Whether to order now.
        order_qty: Units to order, rounded up to the MOQ and whole packs (0 when not ordering).
        source: Where ``s`` and ``S`` come from (see the module docstring).
        notes: Human-readable remarks (approximations, overrides not honoured).
    """

    service_level: float | None
    lead_time_days: float | None
    expected_demand: float | None
    demand_quantiles: dict[str, float]
    safety_stock: float
    reorder_point: float
    order_up_to: float
    inventory_position: float
    order_now: bool
    order_qty: float
    source: Source
    notes: list[str] = field(default_factory=list)


def _num(row: Mapping[str, Any], key: str, default: float | None = None) -> float | None:
    value = row.get(key)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _grid(row: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    levels, values = row.get("ltd_levels"), row.get("ltd_quantiles")
    if not isinstance(levels, Sequence) or not isinstance(values, Sequence) or len(levels) < 2:
        return None
    if len(levels) != len(values):
        return None
    lv, qv = np.asarray(levels, dtype=float), np.asarray(values, dtype=float)
    if not (np.isfinite(lv).all() and np.isfinite(qv).all()) or (np.diff(lv) <= 0).any():
        return None
    # Published quantiles never cross; sorting guards interpolation against float noise.
    return lv, np.maximum.accumulate(qv)


def check_position(position: StockPosition) -> None:
    """Raise ValueError naming the field, the expected range and the value if the position is invalid."""
    for name in ("on_hand", "on_order", "backorders"):
        value = getattr(position, name)
        if not math.isfinite(value):
            raise ValueError(f"The '{name}' must be a finite number of units. Got {value}.")
    for name in ("on_order", "backorders"):
        if getattr(position, name) < 0:
            raise ValueError(f"The '{name}' must be >= 0 units. Got {getattr(position, name)}.")
    sl = position.service_level
    if sl is not None and not 0.0 < sl < 1.0:
        raise ValueError(f"The 'service_level' override must be in (0, 1), e.g. 0.95. Got {sl}.")
    lt = position.lead_time_days
    if lt is not None and not (math.isfinite(lt) and 0.0 < lt <= 365.0):
        raise ValueError(f"The 'lead_time_days' override must be in (0, 365] days. Got {lt}.")


def recommend(policy: Mapping[str, Any], position: StockPosition) -> Recommendation:
    """Order advice for one SKU-channel (see :func:`recommend_many` for many at once).

    Args:
        policy: The published policy row (``reorder_point``, ``order_up_to``, ``safety_stock``,
            ``service_level``, ``lead_time_mean``, optionally ``expected_demand``, ``review_demand``,
            ``daily_mean``, ``ltd_levels``, ``ltd_quantiles``, ``moq``, ``pack_size``).
        position: Current stock and optional overrides.

    Returns:
        The recommendation.

    Raises:
        ValueError: If the position is invalid, or the service-level override lies outside the
            published grid's levels (the message names the range).
    """
    return _decide([_plan(policy, position)])[0]


@dataclass
class _Plan:
    """Everything but the order decision, which is made for many series at once."""

    rec: dict[str, Any]
    inventory_position: float
    moq: float
    pack_size: float


def _plan(policy: Mapping[str, Any], position: StockPosition) -> _Plan:
    check_position(position)
    notes: list[str] = []
    published_sl = _num(policy, "service_level")
    lead = _num(policy, "lead_time_mean")
    rop = _num(policy, "reorder_point", 0.0) or 0.0
    expected = _num(policy, "expected_demand")
    ss = _num(policy, "safety_stock", rop - expected if expected is not None else 0.0) or 0.0
    if expected is None:
        expected = rop - ss
    up_to = _num(policy, "order_up_to", rop) or rop
    # The published lot (S - s: 0 under base stock) is kept when an override moves s.
    lot = max(up_to - rop, 0.0)
    review = _num(policy, "review_demand", lot) or 0.0
    grid = _grid(policy)
    quantiles: dict[str, float] = {}
    source: Source = "published"
    service_level = published_sl
    overridden = position.service_level is not None or position.lead_time_days is not None

    if overridden and grid is None:
        source = "published_fallback"
        notes.append(
            "This run published no lead-time demand grid for this series, so the override(s) could not "
            "be applied; the published reorder point and order-up-to level are returned."
        )
    elif grid is not None and not overridden:
        quantiles = {f"{lv:g}": float(v) for lv, v in zip(grid[0].tolist(), grid[1].tolist(), strict=True)}
    elif grid is not None:
        levels, values = grid
        scale = 1.0
        if position.lead_time_days is not None:
            scale = _lead_scale(policy, lead, review, position.lead_time_days, notes)
            if scale != 1.0:
                lead = position.lead_time_days
        mean = expected * scale
        values = np.maximum(mean + (values - expected) * math.sqrt(scale), 0.0)
        quantiles = {f"{lv:g}": float(v) for lv, v in zip(levels, values, strict=True)}
        if position.service_level is not None:
            sl = position.service_level
            if not levels[0] <= sl <= levels[-1]:
                raise ValueError(
                    f"The 'service_level' override must lie within the published grid "
                    f"[{levels[0]:g}, {levels[-1]:g}]. Got {sl}. Pick a level inside that range."
                )
            rop = float(np.interp(sl, levels, values))
            service_level = sl
            source = "grid_rescaled" if scale != 1.0 else "grid"
        elif scale != 1.0:
            rop = mean + ss * math.sqrt(scale)
            source = "grid_rescaled"
        if source != "published":
            expected = mean
            ss = rop - expected
            up_to = rop + lot
    rec = {
        "service_level": service_level,
        "lead_time_days": lead,
        "expected_demand": expected,
        "demand_quantiles": quantiles,
        "safety_stock": float(ss),
        "reorder_point": float(rop),
        "order_up_to": float(up_to),
        "source": source,
        "notes": notes,
    }
    units = position.on_hand + position.on_order - position.backorders
    return _Plan(rec, units, _num(policy, "moq", 0.0) or 0.0, _num(policy, "pack_size", 1.0) or 1.0)


def _decide(plans: Sequence[_Plan]) -> list[Recommendation]:
    """One vectorised order decision (forecasting.inventory.safety_stock.order_decision) for every plan."""
    if not plans:
        return []
    now, qty = order_decision(
        np.array([p.rec["reorder_point"] for p in plans]),
        np.array([p.rec["order_up_to"] for p in plans]),
        np.array([p.inventory_position for p in plans]),
        np.array([p.moq for p in plans]),
        np.array([p.pack_size for p in plans]),
    )
    return [
        Recommendation(**p.rec, inventory_position=p.inventory_position, order_now=n, order_qty=q)
        for p, n, q in zip(plans, now.tolist(), qty.tolist(), strict=True)
    ]


def _lead_scale(
    policy: Mapping[str, Any], lead: float | None, review: float, new_lead: float, notes: list[str]
) -> float:
    """``P'/P``: protection days with the new lead time over the published ones (1.0 if unknown)."""
    daily = _num(policy, "daily_mean")
    if lead is None or lead <= 0:
        notes.append("The published row has no mean lead time, so 'lead_time_days' was not applied.")
        return 1.0
    review_days = review / daily if daily and daily > 0 else 0.0
    notes.append(
        "Lead-time override approximated: mean scaled with days, spread with the square root of days "
        f"({lead:g} -> {new_lead:g} days lead time)."
    )
    return (new_lead + review_days) / (lead + review_days)


def recommend_many(
    policies: Sequence[Mapping[str, Any]],
    positions: Sequence[StockPosition],
    labels: Sequence[str] | None = None,
) -> list[Recommendation]:
    """:func:`recommend` for aligned sequences of policy rows and positions (one vectorised order step).

    Args:
        policies: Published policy rows.
        positions: One stock position per row.
        labels: How errors name each item (default ``Item <index>``).

    Raises:
        ValueError: If the lengths differ, or naming the first invalid item.
    """
    if len(policies) != len(positions):
        raise ValueError(
            f"Expected one stock position per policy row. Got {len(policies)} rows and "
            f"{len(positions)} positions."
        )
    plans = []
    for i, (row, pos) in enumerate(zip(policies, positions, strict=True)):
        try:
            plans.append(_plan(row, pos))
        except ValueError as exc:
            label = labels[i] if labels is not None else f"Item {i}"
            raise ValueError(f"{label}: {exc}") from None
    return _decide(plans)


__all__ = ["Recommendation", "StockPosition", "check_position", "recommend", "recommend_many"]
