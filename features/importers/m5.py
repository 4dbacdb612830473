"""Import the official M5 (Walmart) file layout into canonical tables.

Sales come from the wide ``sales_train*.csv[.gz]`` file (one row per item x store, one ``d_<n>``
column per day), dates from ``calendar.csv`` and prices from the optional ``sell_prices.csv[.gz]``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import DataValidationError

logger = logging.getLogger(__name__)

SALES_PATTERNS: tuple[str, ...] = (
    "sales_train_evaluation.csv",
    "sales_train_evaluation.csv.gz",
    "sales_train_validation.csv",
    "sales_train_validation.csv.gz",
    "sales_train*.csv",
    "sales_train*.csv.gz",
)
_D_COLUMN = re.compile(r"^d_(\d+)$")
_ID_SUFFIX = re.compile(r"_(evaluation|validation)$")


def _find(src: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        matches = sorted(src.glob(pattern))
        if matches:
            return matches[0]
    return None


def _day_columns(wide: pd.DataFrame, file: Path) -> list[str]:
    """The ``d_<n>`` columns in day order; a skipped day is an error."""
    numbered = sorted((int(m.group(1)), c) for c in wide.columns if (m := _D_COLUMN.match(str(c))))
    if not numbered:
        raise DataValidationError(
            file.name,
            "no day columns d_1..d_N",
            fix="give the M5 wide sales file (columns d_1, d_2, ...)",
        )
    numbers = np.array([n for n, _ in numbered])
    expected = np.arange(numbers[0], numbers[-1] + 1)
    skipped = np.setdiff1d(expected, numbers)
    if len(skipped):
        raise DataValidationError(
            file.name,
            f"day column(s) missing between d_{numbers[0]} and d_{numbers[-1]}",
            column=f"d_{skipped[0]}",
            n_rows=len(skipped),
            examples=[f"d_{n}" for n in skipped[:5]],
            fix="give every day column; M5 days are consecutive",
        )
    return [c for _, c in numbered]


def _item_and_store(wide: pd.DataFrame, file: Path) -> tuple[pd.Series, pd.Series]:
    """``item_id`` and ``store_id`` columns, or parsed from ``id`` (FOODS_3_001_TX_3_evaluation)."""
    if {"item_id", "store_id"} <= set(wide.columns):
        return wide["item_id"].astype(str), wide["store_id"].astype(str)
    if "id" not in wide.columns:
        raise DataValidationError(
            file.name,
            "neither item_id/store_id nor id columns",
            column="id",
            fix="give the M5 sales file with item_id and store_id, or an id like FOODS_3_001_TX_3_evaluation",
        )
    tokens = wide["id"].astype(str).str.replace(_ID_SUFFIX, "", regex=True).str.split("_")
    bad = (tokens.str.len() != 5).to_numpy()
    if bad.any():
        raise DataValidationError(
            file.name,
            "ids not of the form CAT_DEPT_ITEM_STATE_STORE[_evaluation]",
            column="id",
            n_rows=int(bad.sum()),
            examples=[f"row {i + 1} ({wide['id'].iat[i]!r})" for i in np.flatnonzero(bad)[:5]],
            fix="use the official M5 ids, or add item_id and store_id columns",
        )
    return tokens.str[:3].str.join("_"), tokens.str[3:].str.join("_")


def read_calendar(src: Path) -> pd.DataFrame:
    """Read ``calendar.csv`` with parsed dates.

    Raises:
        DataValidationError: If the file or one of its columns ``date, d`` is missing.
    """
    file = Path(src) / "calendar.csv"
    if not file.is_file():
        raise DataValidationError(
            "calendar.csv", f"not found in {src}", fix="put the M5 calendar.csv next to the sales file"
        )
    calendar = pd.read_csv(file)
    for column in ("date", "d"):
        if column not in calendar.columns:
            raise DataValidationError(
                "calendar.csv",
                "required column missing",
                column=column,
                fix="give the official M5 calendar (date, wm_yr_wk, d, events, snap_*)",
            )
    calendar["date"] = pd.to_datetime(calendar["date"])
    return calendar


def m5_events(calendar: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    """Canonical ``events``: named events for every channel, SNAP days per store of the SNAP state.

    Args:
        calendar: The M5 calendar, all of it (its future days are known covariates).
        stores: ``store_id`` and ``state_id`` of every store present in sales.
    """
    parts = []
    for column in ("event_name_1", "event_name_2"):
        if column in calendar.columns:
            named = calendar.loc[calendar[column].notna(), ["date", column]]
            parts.append(
                pd.DataFrame({"date": named["date"], "event": named[column].astype(str), "channel": ""})
            )
    for column in (c for c in calendar.columns if str(c).startswith("snap_")):
        state = str(column)[len("snap_") :]
        days = calendar.loc[calendar[column] == 1, "date"].to_numpy()
        for store in stores.loc[stores["state_id"] == state, "store_id"]:
            parts.append(pd.DataFrame({"date": days, "event": "snap", "channel": store}))
    if not parts:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "event": [], "channel": []})
    events = pd.concat(parts, ignore_index=True)
    return events.sort_values(["date", "channel", "event"], kind="stable").reset_index(drop=True)


def import_m5(src_dir: Path) -> dict[str, pd.DataFrame]:
    """Convert an M5 directory into canonical ``sales`` and ``events`` tables.

    Every ``d_<n>`` column becomes a day, including the zeros before an item's launch (M5 keeps them;
    the data has no stock information to tell them apart). ``price`` is the week's sell price; days
    before an item's first price keep ``price`` empty (NaN) since the item was not on sale, which
    downstream code can read as "not launched yet". No ``skus`` table is produced: M5 has no unit cost
    and inventing one would be silent fiction.

    Args:
        src_dir: Directory with ``sales_train*.csv[.gz]``, ``calendar.csv`` and optionally
            ``sell_prices.csv[.gz]``.

    Returns:
        ``{"sales": ..., "events": ...}``; sku = item_id, channel = store_id.

    Raises:
        DataValidationError: If a file is missing, the day columns skip a day, or a day is not in the
            calendar.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise DataValidationError(
            str(src), "the M5 directory does not exist", fix="give the folder of the M5 files"
        )
    sales_file = _find(src, SALES_PATTERNS)
    if sales_file is None:
        raise DataValidationError(
            str(src),
            "no M5 sales file",
            fix="give sales_train_evaluation.csv (or sales_train*.csv[.gz])",
        )
    logger.info("reading %s", sales_file)
    wide = pd.read_csv(sales_file)
    day_columns = _day_columns(wide, sales_file)
    items, stores = _item_and_store(wide, sales_file)
    calendar = read_calendar(src)
    day_dates = calendar.set_index("d")["date"].reindex(day_columns)
    unknown = day_dates.index[day_dates.isna()]
    if len(unknown):
        raise DataValidationError(
            "calendar.csv",
            "day columns of the sales file are not in the calendar",
            column="d",
            n_rows=len(unknown),
            examples=list(unknown[:5]),
            fix="use the calendar.csv that belongs to the sales file",
        )
    n_rows, n_days = len(wide), len(day_columns)
    sales = pd.DataFrame(
        {
            "date": np.tile(day_dates.to_numpy(), n_rows),
            "sku": np.repeat(items.to_numpy(dtype=object), n_days),
            "channel": np.repeat(stores.to_numpy(dtype=object), n_days),
            "units": wide[day_columns].to_numpy(dtype=np.float64).ravel(),
        }
    )
    price_file = _find(src, ("sell_prices.csv", "sell_prices.csv.gz"))
    if price_file is not None and "wm_yr_wk" in calendar.columns:
        logger.info("reading %s", price_file)
        prices = pd.read_csv(price_file, dtype={"store_id": str, "item_id": str})
        week = calendar.set_index("date")["wm_yr_wk"]
        sales["wm_yr_wk"] = week.reindex(sales["date"]).to_numpy()
        sales = sales.merge(
            prices.rename(columns={"store_id": "channel", "item_id": "sku", "sell_price": "price"}),
            on=["channel", "sku", "wm_yr_wk"],
            how="left",
            validate="many_to_one",
        ).drop(columns="wm_yr_wk")
    if "state_id" in wide.columns:
        store_states = pd.DataFrame({"store_id": stores, "state_id": wide["state_id"].astype(str)})
    else:
        store_states = pd.DataFrame({"store_id": stores, "state_id": stores.str.split("_").str[0]})
    events = m5_events(calendar, store_states.drop_duplicates())
    logger.info("m5: %d series, %d sales rows, %d events", n_rows, len(sales), len(events))
    return {"sales": sales, "events": events}
