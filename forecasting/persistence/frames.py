"""Checks and conversions between result frames and store rows (pure pandas, no database).

The forecast frame is checked completely before anything is written, so a bad frame fails with a
message naming the column, the number of bad rows, examples and the fix, and the store is untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from features.schema import FORECAST_KEY, SERIES_KEY, quantile_column

FORECAST_FRAME = "The forecast frame"
# Width of the sku, channel and model columns (VARCHAR(128)); checked up front because PostgreSQL
# would reject a longer value half-way through a publish.
MAX_KEY_LENGTH = 128

POLICY_COLUMNS: tuple[str, ...] = (
    "policy",
    "abc",
    "xyz",
    "pattern",
    "service_level",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "order_qty",
    "lead_time_mean",
    "lead_time_p90",
    "moq",
    "pack_size",
)
POLICY_FLOATS: tuple[str, ...] = POLICY_COLUMNS[4:]
SEGMENT_COLUMNS: tuple[str, ...] = ("as_of", "abc", "xyz", "pattern", "policy")


def _examples(frame: pd.DataFrame, mask: np.ndarray | pd.Series, n: int = 5) -> str:
    rows = frame.loc[np.asarray(mask, dtype=bool)].head(n)
    cols = [c for c in FORECAST_KEY if c in rows.columns]
    items = [
        "(" + ", ".join(str(v.date()) if isinstance(v, pd.Timestamp) else str(v) for v in rec) + ")"
        for rec in rows[cols].itertuples(index=False, name=None)
    ]
    return "; ".join(items)


_SINGULAR = {"are": "is", "have": "has", "belong": "belongs"}


def _rows(n: int) -> str:
    """``"1 row is"`` or ``"3 rows are"``."""
    return f"{n} row is" if n == 1 else f"{n} rows are"


def _bad_rows(
    what: str, column: str, mask: np.ndarray | pd.Series, frame: pd.DataFrame, problem_fix: tuple[str, str]
) -> ValueError:
    n = int(np.asarray(mask, dtype=bool).sum())
    problem, fix = problem_fix
    if n == 1:  # the problems are written for many rows: "are ...", "have ...", "belong ..."
        verb, _, rest = problem.partition(" ")
        problem = f"{_SINGULAR.get(verb, verb)} {rest}"
    return ValueError(
        f"{what}, column '{column}': {n} row{'s' if n != 1 else ''} {problem}, "
        f"e.g. {_examples(frame, mask)}. Fix: {fix}"
    )


def validate_forecast_frame(frame: pd.DataFrame, quantiles: Sequence[float], horizon: int) -> pd.DataFrame:
    """Check a canonical forecast frame and return a normalised copy ready to store.

    Args:
        frame: One row per ``sku, channel, date`` with ``mean``, one column per quantile named by
            ``quantile_column`` and optionally ``model``.
        quantiles: The levels the frame must carry.
        horizon: Days forecast ahead; no series may have more dates.

    Returns:
        The frame with ``sku``/``channel`` as str, ``date`` as midnight ``datetime64[ns]``, float
        values and a ``model`` column (``"unknown"`` where absent), in canonical column order.

    Raises:
        ValueError: Naming the column, how many rows are wrong, examples and the fix, if a column is
            missing, a key is empty or duplicated, a value is NaN, infinite or negative, quantiles
            cross, or a series has more dates than ``horizon``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{FORECAST_FRAME} must be a pandas DataFrame. Got {type(frame).__name__}.")
    qcols = [quantile_column(q) for q in sorted(quantiles)]
    expected = [*FORECAST_KEY, "mean", *qcols]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{FORECAST_FRAME} is missing column(s) {missing}. Expected {expected} (+ optional 'model'). "
            "Fix: forecast the same quantiles as passed to publish_run, or pass the frame's quantiles."
        )
    if frame.empty:
        raise ValueError(
            f"{FORECAST_FRAME} has no rows. Fix: publish a run only after forecasting some series."
        )

    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in SERIES_KEY:
        values = frame[col].reset_index(drop=True)
        empty = values.isna() | (values.astype(str).str.strip() == "")
        if empty.any():
            raise _bad_rows(
                FORECAST_FRAME,
                col,
                empty,
                frame.reset_index(drop=True),
                ("are empty", f"give every row a '{col}'."),
            )
        out[col] = values.astype(str).astype(object)
        too_long = out[col].str.len() > MAX_KEY_LENGTH
        if too_long.any():
            raise _bad_rows(
                FORECAST_FRAME,
                col,
                too_long,
                out,
                (f"are longer than {MAX_KEY_LENGTH} characters", f"shorten the '{col}' codes."),
            )
    dates = pd.to_datetime(frame["date"].reset_index(drop=True), errors="coerce")
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    bad_date = dates.isna() | (dates != dates.dt.normalize())
    if bad_date.any():
        raise _bad_rows(
            FORECAST_FRAME,
            "date",
            bad_date,
            frame.reset_index(drop=True),
            ("are not whole calendar days", "use dates at midnight, e.g. 2024-05-01."),
        )
    out["date"] = dates.astype("datetime64[ns]")
    dup = out.duplicated(list(FORECAST_KEY), keep=False)
    if dup.any():
        raise _bad_rows(
            FORECAST_FRAME,
            "sku, channel, date",
            dup,
            out,
            ("are duplicates of the key", "keep one row per sku, channel and date."),
        )
    for col in ["mean", *qcols]:
        values = pd.to_numeric(frame[col].reset_index(drop=True), errors="coerce").astype(float)
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            raise _bad_rows(
                FORECAST_FRAME,
                col,
                bad,
                out,
                ("are NaN, infinite or not numbers", "fill or drop those series before publishing."),
            )
        if (values < 0).any():
            raise _bad_rows(
                FORECAST_FRAME,
                col,
                values < 0,
                out,
                ("are negative", "clip forecasts at zero (models.base.finalize_forecast does)."),
            )
        out[col] = values
    if len(qcols) > 1:
        crossing = np.asarray((np.diff(out[qcols].to_numpy(), axis=1) < 0).any(axis=1), dtype=bool)
        if crossing.any():
            raise _bad_rows(
                FORECAST_FRAME,
                ", ".join(qcols),
                crossing,
                out,
                (
                    "have crossing quantiles (a lower level above a higher one)",
                    "sort each row's quantiles (models.base.finalize_forecast does).",
                ),
            )
    days = out.groupby(list(SERIES_KEY), sort=False, observed=True)["date"].transform("size")
    if (days > horizon).any():
        raise _bad_rows(
            FORECAST_FRAME,
            "date",
            days > horizon,
            out,
            (
                f"belong to series with more than horizon={horizon} dates",
                "pass the horizon the frame was forecast with.",
            ),
        )
    if "model" in frame:
        model = frame["model"].reset_index(drop=True)
    else:
        model = pd.Series("unknown", index=out.index)
    # The column holds a short model or path name; longer text would fail the insert mid-way.
    out["model"] = (
        model.where(model.notna(), "unknown").astype(str).str.slice(0, MAX_KEY_LENGTH).astype(object)
    )
    return out[[*expected, "model"]]


def quantile_json_rows(values: np.ndarray) -> list[str]:
    """One JSON array per row of ``values`` (2-D floats), exact to the last bit.

    One orjson call over the whole matrix (shortest round-trip float text, ~15x faster than the
    standard library) and a split is far faster than one call per row; the split is safe because
    numbers never contain brackets.
    """
    if values.shape[0] == 0:
        return []
    matrix = np.ascontiguousarray(values, dtype=np.float64)
    text = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return ["[" + part + "]" for part in text[2:-2].split("],[")]


def parse_quantile_json(texts: Sequence[str], n_levels: int) -> np.ndarray:
    """Inverse of :func:`quantile_json_rows`: a ``(len(texts), n_levels)`` float array."""
    if not texts:
        return np.empty((0, n_levels))
    return np.asarray(orjson.loads("[" + ",".join(texts) + "]"), dtype=float).reshape(len(texts), n_levels)


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy scalars, NaN, timestamps and tuples turned into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray | pd.Series):
        return [to_jsonable(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return None if pd.isna(value) else value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _check_keys(frame: pd.DataFrame, name: str, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The {name} frame is missing column(s) {missing}. Expected at least {list(required)}. "
            f"Fix: add them to the {name} frame."
        )
    for col in SERIES_KEY:
        if frame[col].isna().any():
            n = int(frame[col].isna().sum())
            raise ValueError(
                f"The {name} frame, column '{col}': {_rows(n)} empty. Fix: give every row a '{col}'."
            )
    dup = frame.duplicated(list(SERIES_KEY))
    if dup.any():
        raise ValueError(
            f"The {name} frame has {int(dup.sum())} duplicate (sku, channel) rows, e.g. "
            f"{frame.loc[dup, list(SERIES_KEY)].head(3).to_records(index=False).tolist()}. "
            "Fix: keep one row per series."
        )


def plain_values(values: pd.Series) -> list[Any]:
    """The column as JSON-ready Python values (NaN, NaT -> None), converted per column, not per cell.

    Numeric, boolean and datetime columns convert in bulk; only object columns (lists, mixed values)
    go through :func:`to_jsonable` cell by cell. This keeps 30,000 policy rows well under a second.
    """
    missing = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        out = values.astype(object).tolist()
    elif pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype=float)
        missing = missing | ~np.isfinite(arr)
        out = arr.tolist()
    elif pd.api.types.is_datetime64_any_dtype(values):
        out = [None if m else ts.isoformat() for ts, m in zip(values.tolist(), missing, strict=True)]
    else:
        return [to_jsonable(v) for v in values.tolist()]
    if missing.any():
        for pos in np.flatnonzero(missing):
            out[pos] = None
    return out


def _scalars(values: pd.Series, kind: type) -> list[Any]:
    """Plain values for a scalar column of the table: lists and dicts become None, others ``kind``."""
    return [None if v is None or isinstance(v, list | dict) else kind(v) for v in plain_values(values)]


def _records(columns: dict[str, list[Any]], n: int) -> list[dict[str, Any]]:
    names = list(columns)
    return (
        [dict(zip(names, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]
        if names
        else [{} for _ in range(n)]
    )


def policy_rows(frame: pd.DataFrame, run_id: int) -> list[dict[str, Any]]:
    """Rows of the ``policies`` table; columns the table lacks go into ``extra`` (JSON)."""
    _check_keys(frame, "policies", [*SERIES_KEY, "policy"])
    if frame["policy"].isna().any():
        raise ValueError(
            f"The policies frame, column 'policy': {_rows(int(frame['policy'].isna().sum()))} empty. "
            "Fix: give every series a policy (jit, safety_stock or seasonal_hybrid)."
        )
    n = len(frame)
    known = {*SERIES_KEY, *POLICY_COLUMNS, "reasons"}
    columns: dict[str, list[Any]] = {"run_id": [run_id] * n}
    for col in [*SERIES_KEY, *POLICY_COLUMNS]:
        kind: type = float if col in POLICY_FLOATS else str
        columns[col] = _scalars(frame[col], kind) if col in frame else [None] * n
    columns["reasons"] = plain_values(frame["reasons"]) if "reasons" in frame else [None] * n
    extra = {str(c): plain_values(frame[c]) for c in frame.columns if c not in known}
    columns["extra"] = _records(extra, n)
    return _records(columns, n)


def segment_rows(frame: pd.DataFrame, run_id: int, default_as_of: date) -> list[dict[str, Any]]:
    """Rows of the ``segments`` table; columns the table lacks go into ``figures`` (JSON)."""
    _check_keys(frame, "segments", list(SERIES_KEY))
    n = len(frame)
    known = {*SERIES_KEY, *SEGMENT_COLUMNS}
    columns: dict[str, list[Any]] = {"run_id": [run_id] * n}
    for col in SERIES_KEY:
        columns[col] = _scalars(frame[col], str)
    if "as_of" in frame:
        as_of = pd.to_datetime(frame["as_of"])
        columns["as_of"] = [default_as_of if pd.isna(v) else v.date() for v in as_of]
    else:
        columns["as_of"] = [default_as_of] * n
    for col in SEGMENT_COLUMNS[1:]:
        columns[col] = _scalars(frame[col], str) if col in frame else [None] * n
    figures = {str(c): plain_values(frame[c]) for c in frame.columns if c not in known}
    columns["figures"] = _records(figures, n)
    return _records(columns, n)


def expand_json(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Replace the dict column ``column`` by one column per key (in first-seen order)."""
    records = [v if isinstance(v, dict) else {} for v in frame[column]]
    if not records:
        return frame.drop(columns=[column])
    wide = pd.DataFrame.from_records(records, index=frame.index)
    wide = wide[[c for c in wide.columns if c not in frame.columns]]
    return pd.concat([frame.drop(columns=[column]), wide], axis=1)
