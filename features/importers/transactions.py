"""Import invoice lines (one row per sold or returned line) into canonical daily ``sales``.

Column names are detected case-insensitively from common spellings (``InvoiceDate``, ``StockCode``,
``Quantity``, ``UnitPrice``, ...) and can always be named explicitly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from features.dates import parse_timestamp_column
from features.errors import DataValidationError

logger = logging.getLogger(__name__)

# Candidate names per role, best first; compared after lower-casing and dropping '_', ' ' and '-'.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "timestamp": ("invoicedate", "timestamp", "datetime", "orderdate", "date", "createdat", "time"),
    "sku": ("stockcode", "sku", "productid", "itemid", "product", "item", "description"),
    "quantity": ("quantity", "qty", "units", "quantityordered"),
    "price": ("unitprice", "price", "itemprice", "priceeach"),
}


def _normalise(name: object) -> str:
    return str(name).lower().replace("_", "").replace(" ", "").replace("-", "")


def resolve_column(
    frame: pd.DataFrame, role: str, given: str | None, *, required: bool, source: str
) -> str | None:
    """The column playing ``role``: ``given`` if named, else the first common spelling present.

    Raises:
        DataValidationError: If ``given`` is not a column, or a required role has no match; the message
            lists the available columns.
    """
    available = ", ".join(map(repr, frame.columns))
    if given is not None:
        if given in frame.columns:
            return given
        matches = [c for c in frame.columns if _normalise(c) == _normalise(given)]
        if matches:
            return str(matches[0])
        raise DataValidationError(
            source,
            f"the {role} column {given!r} is not in the file (available: {available})",
            column=given,
            fix=f"name the {role} column with one of the available columns",
        )
    by_name = {_normalise(c): str(c) for c in frame.columns}
    for candidate in CANDIDATES[role]:
        if candidate in by_name:
            return by_name[candidate]
    if required:
        raise DataValidationError(
            source,
            f"no {role} column found (available: {available})",
            column=role,
            fix=f"name it with the {role} option (e.g. --{'qty' if role == 'quantity' else role}-col)",
        )
    return None


def read_lines(file: Path) -> pd.DataFrame:
    """Read a transactions file: ``.parquet``, ``.csv`` or ``.csv.gz``."""
    file = Path(file)
    if not file.is_file():
        raise DataValidationError(
            str(file), "the transactions file does not exist", fix="give an existing file"
        )
    try:
        if file.name.endswith(".parquet"):
            return pd.read_parquet(file)
        return pd.read_csv(file, low_memory=False, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise DataValidationError(
            str(file), "the file is empty", n_rows=0, fix="give a file with a header and rows"
        ) from None


def _bad_rows(mask: np.ndarray, values: pd.Series) -> list[str]:
    return [f"row {i + 1} ({values.iat[i]!r})" for i in np.flatnonzero(mask)[:5]]


def import_transactions(
    file: Path,
    *,
    timestamp: str | None = None,
    sku: str | None = None,
    quantity: str | None = None,
    price: str | None = None,
    channel: str | None = None,
    default_channel: str = "online",
) -> dict[str, pd.DataFrame]:
    """Aggregate invoice lines into daily canonical ``sales``.

    Per sku, channel and day: ``units`` is the sum of positive quantities, ``returns`` the sum of
    absolute negative quantities, and ``price`` the quantity-weighted mean unit price of the positive
    lines with a price > 0 (empty when there is none). Lines without a SKU are dropped and counted in
    the log.

    Args:
        file: ``.parquet``, ``.csv`` or ``.csv.gz`` file of invoice lines.
        timestamp: Date or date-time column; detected if None.
        sku: Product column; detected if None (StockCode before Description).
        quantity: Signed quantity column; detected if None.
        price: Unit price column; detected if None, and optional.
        channel: Column giving the sales channel; if None every line gets ``default_channel``.
        default_channel: Channel name when ``channel`` is None.

    Returns:
        ``{"sales": ...}`` with columns date, sku, channel, units, returns (and price).

    Raises:
        DataValidationError: If a column is missing (the message lists the available ones), a
            quantity is not a number or a timestamp cannot be parsed.
    """
    source = Path(file).name
    lines = read_lines(Path(file))
    time_col = resolve_column(lines, "timestamp", timestamp, required=True, source=source)
    sku_col = resolve_column(lines, "sku", sku, required=True, source=source)
    qty_col = resolve_column(lines, "quantity", quantity, required=True, source=source)
    price_col = resolve_column(lines, "price", price, required=False, source=source)
    if channel is not None and channel not in lines.columns:
        raise DataValidationError(
            source,
            f"the channel column {channel!r} is not in the file (available: "
            f"{', '.join(map(repr, lines.columns))})",
            column=channel,
            fix="name an existing column or omit it",
        )
    if lines.empty:
        raise DataValidationError(
            source, "the file has no rows", n_rows=0, fix="give a file with invoice lines"
        )
    assert time_col is not None and sku_col is not None and qty_col is not None
    logger.info(
        "transactions: %d lines; sku=%s, date=%s, quantity=%s, price=%s, channel=%s",
        len(lines),
        sku_col,
        time_col,
        qty_col,
        price_col,
        channel or repr(default_channel),
    )

    qty = pd.to_numeric(lines[qty_col], errors="coerce")
    bad = (lines[qty_col].notna() & qty.isna()).to_numpy()
    if bad.any():
        raise DataValidationError(
            source,
            "quantities that are not numbers",
            column=qty_col,
            n_rows=int(bad.sum()),
            examples=_bad_rows(bad, lines[qty_col]),
            fix="correct or remove those lines",
        )
    stamps, problem = parse_timestamp_column(lines[time_col])
    if problem is not None:
        unreadable = problem.problem.startswith("values that are not a date")
        raise DataValidationError(
            source,
            "timestamps that cannot be parsed" if unreadable else problem.problem,
            column=time_col,
            n_rows=int(problem.bad.sum()),
            examples=_bad_rows(problem.bad, lines[time_col]),
            fix=problem.fix or "use one format for the column, e.g. 2011-12-01 08:26",
        )

    skus = lines[sku_col].astype("string").str.strip()
    keep = (skus.notna() & (skus != "") & stamps.notna() & qty.notna()).to_numpy()
    if not keep.all():
        logger.warning("transactions: dropped %d lines without sku, date or quantity", int((~keep).sum()))
    qty = qty[keep].astype("float64")
    sold = qty.clip(lower=0)
    frame = pd.DataFrame(
        {
            "date": stamps[keep].dt.normalize(),
            "sku": skus[keep].astype(object),
            "channel": lines.loc[keep, channel].astype(str).to_numpy() if channel else default_channel,
            "units": sold,
            "returns": (-qty).clip(lower=0),
        }
    )
    keys = ["sku", "channel", "date"]
    if price_col is not None:
        unit_price = pd.to_numeric(lines.loc[keep, price_col], errors="coerce")
        priced = (sold > 0) & (unit_price > 0)
        frame["_priced_units"] = sold.where(priced, 0.0)
        frame["_revenue"] = (sold * unit_price).where(priced, 0.0)
    sales = frame.groupby(keys, sort=True, as_index=False, observed=True).sum()
    if price_col is not None:
        sales["price"] = (sales["_revenue"] / sales["_priced_units"]).where(sales["_priced_units"] > 0)
        sales = sales.drop(columns=["_revenue", "_priced_units"])
    sales = sales[["date", "sku", "channel", "units", "returns", *(["price"] if price_col else [])]]
    logger.info("transactions: %d daily sales rows, %d series", len(sales),
                sales.groupby(keys[:2], observed=True).ngroups)
    return {"sales": sales}
