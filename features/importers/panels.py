"""Import the two panel sources of the development data: carparts (monthly) and Dominick's OJ (weekly).

Both mark unobserved periods inside a series' span as ``in_stock = 0`` (units 0): demand there is
unknown, not zero, and the canonical way to say so is a censored row. Validate them with
``freq="auto"`` (or ``"MS"`` / ``"W"``) so the grid is monthly or weekly, not daily.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import DataValidationError

logger = logging.getLogger(__name__)

# Week 1 of the Dominick's scanner data starts on Thursday 1989-09-14 (week 40 = 1990-06-14).
DOMINICKS_WEEK_ONE = pd.Timestamp("1989-09-14")
DOMINICKS_FILE = "orangeJuice_yx.csv.gz"


def _existing(file: Path, what: str) -> Path:
    if not file.exists():
        raise DataValidationError(str(file), f"the {what} does not exist", fix=f"give the path of the {what}")
    return file


def import_carparts(file: Path, *, channel: str = "parts") -> dict[str, pd.DataFrame]:
    """Convert the wide monthly carparts file (``Part`` + one column per month, e.g. ``Jan-98``).

    Each part is a SKU in one channel; each month is dated on its first day. Empty cells become rows
    with ``units = 0`` and ``in_stock = 0`` (unobserved), so they are censored rather than zeros.

    Args:
        file: ``carparts.csv``.
        channel: Channel name given to every series.

    Returns:
        ``{"sales": ...}`` with columns date, sku, channel, units, in_stock.

    Raises:
        DataValidationError: If the ``Part`` column is missing or a month header cannot be parsed.
    """
    wide = pd.read_csv(_existing(Path(file), "carparts file"), dtype={"Part": str})
    if "Part" not in wide.columns:
        raise DataValidationError(
            Path(file).name,
            "required column missing",
            column="Part",
            fix="give the carparts file with a 'Part' column and one column per month",
        )
    months = [c for c in wide.columns if c != "Part"]
    dates = pd.to_datetime(pd.Series(months), format="%b-%y", errors="coerce")
    if dates.isna().any():
        bad = [m for m, d in zip(months, dates, strict=True) if pd.isna(d)]
        raise DataValidationError(
            Path(file).name,
            "month headers not like 'Jan-98'",
            column=bad[0],
            n_rows=len(bad),
            examples=bad[:5],
            fix="name month columns Mon-YY",
        )
    values = wide[months].to_numpy(dtype=np.float64)
    observed = ~np.isnan(values)
    sales = pd.DataFrame(
        {
            "date": np.tile(dates.to_numpy(), len(wide)),
            "sku": np.repeat(wide["Part"].to_numpy(dtype=object), len(months)),
            "channel": channel,
            "units": np.nan_to_num(values, nan=0.0).ravel(),
            "in_stock": observed.ravel().astype(np.int8),
        }
    )
    logger.info(
        "carparts: %d parts x %d months, %d unobserved cells", len(wide), len(months), int((~observed).sum())
    )
    return {"sales": sales}


def import_dominicks(src: Path) -> dict[str, pd.DataFrame]:
    """Convert Dominick's orange juice (bayesm ``orangeJuice$yx``) into weekly canonical sales.

    sku = brand number, channel = store number, date = first day (Thursday) of the week, units =
    ``round(exp(logmove))``, price = the ``price<brand>`` column of the row, promo = ``deal``. Weeks
    missing inside a store-brand span are added as censored rows (``units = 0``, ``in_stock = 0``).

    Args:
        src: The ``dominicks-oj`` directory or the ``orangeJuice_yx.csv[.gz]`` file.

    Returns:
        ``{"sales": ...}`` with columns date, sku, channel, units, price, promo, in_stock.

    Raises:
        DataValidationError: If the file or one of its columns is missing.
    """
    file = Path(src)
    if file.is_dir():
        file = file / DOMINICKS_FILE
    yx = pd.read_csv(_existing(file, "Dominick's orangeJuice_yx file"))
    for column in ("store", "brand", "week", "logmove", "deal"):
        if column not in yx.columns:
            raise DataValidationError(
                file.name,
                "required column missing",
                column=column,
                fix="give the bayesm orangeJuice yx table (store, brand, week, logmove, ...)",
            )
    brand = yx["brand"].to_numpy(dtype=np.int64)
    price_columns = [f"price{b}" for b in np.unique(brand)]
    missing = [c for c in price_columns if c not in yx.columns]
    if missing:
        raise DataValidationError(
            file.name,
            "price column of a brand missing",
            column=missing[0],
            fix="give price1..price11 as in the bayesm data",
        )
    prices = yx[[f"price{b}" for b in range(1, brand.max() + 1) if f"price{b}" in yx.columns]]
    lookup = {int(c[len("price") :]): i for i, c in enumerate(prices.columns)}
    price = prices.to_numpy()[np.arange(len(yx)), [lookup[b] for b in brand]]
    observed = pd.DataFrame(
        {
            "week": yx["week"].astype(np.int64),
            "sku": yx["brand"].astype(str),
            "channel": yx["store"].astype(str),
            "units": np.round(np.exp(yx["logmove"].to_numpy())),
            "price": price,
            "promo": (yx["deal"] > 0).astype(np.int8),
            "in_stock": np.int8(1),
        }
    )
    span = observed.groupby(["sku", "channel"], observed=True)["week"].agg(["min", "max"]).reset_index()
    # Up to the last week of the whole table: weeks after a series' last row are unknown too.
    lengths = (observed["week"].max() - span["min"] + 1).to_numpy()
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid = pd.DataFrame(
        {
            "sku": np.repeat(span["sku"].to_numpy(), lengths),
            "channel": np.repeat(span["channel"].to_numpy(), lengths),
            "week": np.repeat(span["min"].to_numpy(), lengths) + np.arange(lengths.sum()) - offsets,
        }
    )
    sales = grid.merge(observed, on=["sku", "channel", "week"], how="left", validate="one_to_one")
    unobserved = sales["units"].isna()
    sales = sales.fillna({"units": 0.0, "promo": 0, "in_stock": 0}).astype(
        {"promo": "int8", "in_stock": "int8"}
    )
    sales["date"] = DOMINICKS_WEEK_ONE + pd.to_timedelta((sales["week"] - 1) * 7, unit="D")
    logger.info(
        "dominicks: %d series, %d weeks observed, %d unobserved",
        len(span),
        int((~unobserved).sum()),
        int(unobserved.sum()),
    )
    return {"sales": sales[["date", "sku", "channel", "units", "price", "promo", "in_stock"]]}
