"""Plain-language labels and short explanations of the figures the pages show."""

from __future__ import annotations

from typing import Any

POLICY_NAMES = {"jit": "just in time", "safety_stock": "safety stock", "seasonal_hybrid": "seasonal hybrid"}

# (policy column, label, explanation); shown in this order when the row has the column.
FACTS = (
    ("policy", "policy", "how this item is replenished"),
    ("abc", "ABC class", "A: the items making most of the sales value, C: the long tail"),
    ("xyz", "XYZ class", "X: steady demand, Z: erratic (from the coefficient of variation)"),
    ("pattern", "demand pattern", "smooth, erratic, intermittent or lumpy, from ADI (average days between "
                                  "sales) and CV² (how much the sizes of sales vary)"),
    ("service_level", "service level", "the chance of not running out in a replenishment cycle"),
    ("lead_time_mean", "lead time (days)", "measured from past receipts of this supplier"),
    ("lead_time_p90", "lead time, late case (days)", "9 deliveries in 10 arrive within it"),
    ("safety_stock", "safety stock", "units held above expected demand over lead time + review"),
    ("reorder_point", "reorder point", "order when the stock position falls to it"),
    ("order_up_to", "order-up-to level", "an order brings the stock position up to it"),
    ("on_hand", "on hand", "units on the shelf when the run was planned"),
    ("on_order", "on order", "ordered, not yet received"),
    ("inventory_position", "stock position", "on hand + on order - backorders"),
    ("order_now", "order now", "the stock position is at or below the reorder point"),
    ("order_qty", "order quantity", "rounded up to the MOQ and whole packs"),
    ("moq", "minimum order quantity", "the supplier's smallest order"),
    ("pack_size", "pack size", "orders are whole packs"),
)


def policy_facts(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy row as ``label, value, help`` rows in reading order (only the columns it has)."""
    out = []
    for key, label, help_text in FACTS:
        if key not in policy or policy[key] is None:
            continue
        value = policy[key]
        if key == "policy":
            value = POLICY_NAMES.get(str(value).lower(), str(value))
        elif key == "service_level" and isinstance(value, int | float):
            value = f"{100 * value:.1f}%"
        elif key == "order_now":
            value = "yes" if value else "no"
        out.append({"key": key, "label": label, "value": value, "help": help_text})
    return out
