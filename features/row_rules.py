"""Row-level rules of the canonical tables (negative units, a receipt before its order...), as data.

:mod:`features.validation` applies them after typing each table; a rule names its problem and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Rule:
    """A row-level rule of one table: ``bad(frame)`` is True on the rows that break it.

    Attributes:
        columns: Columns the rule reads; it runs only when all are present. The first is reported.
        bad: Vectorised test on the typed table.
        problem: What is wrong, as the error message states it.
        fix: What the user should do.
    """

    columns: tuple[str, ...]
    bad: Callable[[pd.DataFrame], pd.Series]
    problem: str
    fix: str


def _negative(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: f[column] < 0


def _not_positive(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    # NaN passes: a missing price is unknown, not wrong (e.g. an item not on sale yet).
    return lambda f: f[column] <= 0


RULES: dict[str, tuple[Rule, ...]] = {
    "sales": (
        Rule(
            ("units",),
            _negative("units"),
            "units must be >= 0",
            "record returns as positive numbers in the 'returns' column, not as negative units",
        ),
        Rule(
            ("price",),
            _not_positive("price"),
            "price must be > 0",
            "leave the price empty when it is unknown; never 0 or negative",
        ),
        Rule(
            ("returns",),
            _negative("returns"),
            "returns must be >= 0",
            "give returned units as a positive count",
        ),
    ),
    "skus": (
        Rule(
            ("unit_price",), _not_positive("unit_price"), "unit_price must be > 0", "give the selling price"
        ),
        Rule(("unit_cost",), _negative("unit_cost"), "unit_cost must be >= 0", "give the purchase cost"),
        Rule(("moq",), _negative("moq"), "moq must be >= 0", "give the minimum order quantity in units"),
        Rule(("pack_size",), _not_positive("pack_size"), "pack_size must be > 0", "give units per pack"),
    ),
    "suppliers": (
        Rule(
            ("promised_lead_time_days",),
            _negative("promised_lead_time_days"),
            "promised_lead_time_days must be >= 0",
            "give the promised lead time in days",
        ),
    ),
    "receipts": (
        Rule(
            ("received_on", "ordered_on"),
            lambda f: f["received_on"] < f["ordered_on"],
            "received_on is before ordered_on",
            "check the two dates; an order cannot arrive before it is placed",
        ),
        Rule(("qty",), _negative("qty"), "qty must be >= 0", "give received quantities as positive counts"),
    ),
    "promotions": (
        Rule(
            ("end", "start"),
            lambda f: f["end"] < f["start"],
            "end is before start",
            "check the promotion dates; 'end' is the last day of the promotion",
        ),
    ),
    "inventory": (
        Rule(("on_hand",), _negative("on_hand"), "on_hand must be >= 0", "give the stock on hand in units"),
        Rule(("on_order",), _negative("on_order"), "on_order must be >= 0", "give open order quantities"),
    ),
}
