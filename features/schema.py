"""The canonical tables as declared contracts, and the forecast output format.

Readers, validation, importers, the synthetic generator and the SQL store all read these specs, so a
column is named and typed in exactly one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["date", "str", "float", "int", "flag"]


@dataclass(frozen=True)
class TableSpec:
    """Contract of one canonical table.

    Attributes:
        name: Table name (also the file stem and the SQL table name).
        required: Required columns and their kinds.
        optional: Optional columns and their kinds.
        key: Columns that identify a row; duplicates of the key are rejected.
    """

    name: str
    required: dict[str, ColumnKind]
    optional: dict[str, ColumnKind] = field(default_factory=dict)
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> dict[str, ColumnKind]:
        """All known columns, required first."""
        return {**self.required, **self.optional}


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "sales",
            {"date": "date", "sku": "str", "channel": "str", "units": "float"},
            {"price": "float", "promo": "flag", "in_stock": "flag", "returns": "float"},
            key=("sku", "channel", "date"),
        ),
        TableSpec(
            "skus",
            {"sku": "str", "unit_cost": "float", "unit_price": "float"},
            {"supplier": "str", "category": "str", "moq": "float", "pack_size": "float"},
            key=("sku",),
        ),
        TableSpec(
            "suppliers",
            {"supplier": "str", "promised_lead_time_days": "float"},
            {"origin": "str"},
            key=("supplier",),
        ),
        TableSpec(
            "receipts",
            {"supplier": "str", "ordered_on": "date", "received_on": "date"},
            {"sku": "str", "promised_on": "date", "qty": "float"},
        ),
        TableSpec("events", {"date": "date", "event": "str"}, {"channel": "str"}),
        TableSpec(
            "promotions",
            {"sku": "str", "channel": "str", "start": "date", "end": "date"},
            {"expected_uplift": "float"},
        ),
        TableSpec(
            "inventory",
            {"sku": "str", "channel": "str", "on_hand": "float"},
            {"on_order": "float", "as_of": "date"},
            key=("sku", "channel"),
        ),
    )
}

SERIES_KEY: tuple[str, str] = ("sku", "channel")

# The nine M5 uncertainty quantiles: the default output and the backtest metric's levels.
M5_QUANTILES: tuple[float, ...] = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)
DEFAULT_QUANTILES: tuple[float, ...] = M5_QUANTILES


def quantile_column(q: float) -> str:
    """Column name of quantile ``q`` in the forecast output: its decimal string, e.g. ``"0.005"``.

    Raises:
        ValueError: If ``q`` is not strictly between 0 and 1.
    """
    if not 0.0 < float(q) < 1.0:
        raise ValueError(f"A quantile must be in (0, 1). Got {q}. Use e.g. 0.05 for the 5% quantile.")
    text = f"{float(q):.6f}".rstrip("0")
    return text if not text.endswith(".") else text + "0"


def parse_quantiles(values: str | Iterable[float]) -> tuple[float, ...]:
    """Parse ``"0.1,0.5,0.9"`` or a sequence into sorted unique quantiles, each checked in (0, 1).

    Raises:
        ValueError: If a value is not a number or not in (0, 1).
    """
    items: Sequence[str | float] = values.split(",") if isinstance(values, str) else list(values)
    out: set[float] = set()
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            q = float(text)
        except ValueError:
            raise ValueError(
                f"The 'quantiles' must be numbers in (0, 1) separated by commas. Got {text!r}."
            ) from None
        quantile_column(q)  # validates the range
        out.add(q)
    if not out:
        raise ValueError("The 'quantiles' list is empty. Give e.g. 0.05,0.5,0.95.")
    return tuple(sorted(out))


FORECAST_KEY: tuple[str, str, str] = ("sku", "channel", "date")


def forecast_columns(quantiles: Iterable[float]) -> list[str]:
    """Columns of the canonical forecast frame for these quantiles, in order."""
    return [*FORECAST_KEY, "mean", *(quantile_column(q) for q in sorted(quantiles))]
