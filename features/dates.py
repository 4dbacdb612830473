"""One strict reading of a date column: one format for the whole column, never a guess per row.

A column is read as ISO 8601 (``yyyy-mm-dd``, optionally with a time) when every value is ISO. A column
with no ISO value is read with the one format of :data:`FORMATS` that parses every value; when two
formats parse every value but give different dates (``02/01/2024``: 2 January or 1 February?) the
column is ambiguous and refused. A column mixing formats (ISO rows and ``02/01/2024`` rows) is refused
too: pandas' "mixed" mode would read each row its own way without a word.

Each distinct value is parsed once, so 22 M rows with a few thousand distinct dates cost little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype

_DAYS: tuple[str, ...] = (
    "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%m/%d/%y", "%Y/%m/%d", "%d.%m.%Y", "%d.%m.%y",
    "%d-%m-%Y", "%m-%d-%Y", "%d %b %Y", "%b %d %Y", "%d-%b-%Y", "%d-%b-%y",
)
_TIMES: tuple[str, ...] = ("", " %H:%M", " %H:%M:%S")
FORMATS: tuple[str, ...] = tuple(day + time for day in _DAYS for time in _TIMES)
"""Non-ISO formats a whole column may use (with an optional ``HH:MM[:SS]`` time)."""

ISO = "ISO8601"


@dataclass(frozen=True)
class DateProblem:
    """Why a date column was refused.

    Attributes:
        problem: What is wrong, as the error message states it.
        bad: Mask of the rows to name.
        fix: What the user should do.
    """

    problem: str
    bad: np.ndarray
    fix: str


def _parse(values: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(values, errors="coerce", format=fmt)


def parse_date_column(raw: pd.Series) -> tuple[pd.Series, DateProblem | None]:
    """Dates at midnight (``datetime64[ns]``, time zone dropped) and the reason the column is refused.

    Args:
        raw: The column as read (text, or already datetimes from Parquet / SQL).

    Returns:
        The parsed dates (NaT where missing or refused) and None, or a :class:`DateProblem` naming the
        rows that are not dates, are in a second format, or can be read two ways.
    """
    stamps, problem = parse_timestamp_column(raw)
    return stamps.dt.normalize().astype("datetime64[ns]"), problem


def parse_timestamp_column(raw: pd.Series) -> tuple[pd.Series, DateProblem | None]:
    """:func:`parse_date_column` keeping the time of day."""
    if is_datetime64_any_dtype(raw.dtype):
        values = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        return values.astype("datetime64[ns]"), None
    codes, uniques = pd.factorize(raw)
    text = pd.Series(uniques, dtype=object).astype(str).str.strip()
    parsed, problem = _parse_uniques(text)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    stamps = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
    present = codes >= 0
    stamps[present] = parsed.to_numpy(dtype="datetime64[ns]")[codes[present]]
    out = pd.Series(stamps, index=raw.index)
    if problem is None:
        return out, None
    bad = np.zeros(len(raw), dtype=bool)
    bad[present] = problem.bad[codes[present]]
    return out, DateProblem(problem.problem, bad, problem.fix)


def _parse_uniques(text: pd.Series) -> tuple[pd.Series, DateProblem | None]:
    """Parse the distinct values; ``DateProblem.bad`` is per distinct value here."""
    iso = _parse(text, ISO)
    iso_ok = iso.notna().to_numpy()
    if iso_ok.all():
        return iso, None
    if iso_ok.any():
        other = ~iso_ok & _parses_in_any(text)
        if other.any():
            return iso, DateProblem(
                "dates in more than one format (most are ISO yyyy-mm-dd, these are not)",
                other,
                "write every date of the column as yyyy-mm-dd, e.g. 2024-01-31",
            )
        return iso, _not_dates(~iso_ok)
    readings = {fmt: _parse(text, fmt) for fmt in FORMATS}
    complete = [fmt for fmt, values in readings.items() if values.notna().all()]
    if not complete:
        best = max(readings, key=lambda f: int(readings[f].notna().sum()))
        failed = readings[best].isna().to_numpy()
        other = failed & _parses_in_any(text)
        if readings[best].notna().any() and other.any():
            return readings[best], DateProblem(
                f"dates in more than one format (most read as '{best}', these do not)",
                other,
                f"write every date of the column in one format, best yyyy-mm-dd (ISO); now '{best}'",
            )
        return readings[best], _not_dates(failed)
    first = readings[complete[0]]
    for fmt in complete[1:]:
        differ = (readings[fmt] != first).to_numpy()
        if differ.any():
            return first, DateProblem(
                f"ambiguous dates: every value reads as '{complete[0]}' and as '{fmt}', with different "
                "days (day-first or month-first?)",
                differ,
                "write the dates as yyyy-mm-dd (ISO), which has only one reading",
            )
    return first, None


def _parses_in_any(text: pd.Series) -> np.ndarray:
    ok = np.zeros(len(text), dtype=bool)
    for fmt in FORMATS:
        ok |= _parse(text, fmt).notna().to_numpy()
    return ok


def _not_dates(bad: np.ndarray) -> DateProblem:
    return DateProblem("values that are not a date such as 2024-01-31", bad, "")


ISOLATION_GAP_DAYS = 183
"""A stretch of dates this far from the rest, holding few rows, is taken for a typo (e.g. a wrong year)."""


def isolated_dates(dates: pd.Series, *, gap_days: int = ISOLATION_GAP_DAYS, max_rows: int = 5,
                   max_share: float = 0.01) -> tuple[np.ndarray, str]:
    """Rows dated far before or after the bulk of a table, and a sentence saying where the bulk is.

    A row counts when more than ``gap_days`` without any row separate it from the bulk and its side of
    the gap holds at most ``max_rows`` rows or ``max_share`` of them (a ``2019-06-01`` typo in 2024
    data would otherwise add years of zero sales to its series).

    Args:
        dates: Parsed dates (NaT ignored).

    Returns:
        The mask of isolated rows and a description of the bulk's range ("" when none).
    """
    days = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    known = ~np.isnat(days)
    mask = np.zeros(len(days), dtype=bool)
    if known.sum() < 2:
        return mask, ""
    values = days[known].astype(np.int64)
    unique, counts = np.unique(values, return_counts=True)
    before = np.cumsum(counts)[:-1]
    after = len(values) - before
    small = np.maximum(max_rows, max_share * len(values))
    wide = np.diff(unique) > gap_days
    low_cuts = np.flatnonzero(wide & (before <= small) & (after >= 20 * before))
    high_cuts = np.flatnonzero(wide & (after <= small) & (before >= 20 * after))
    lo = unique[low_cuts[-1] + 1] if low_cuts.size else unique[0]
    hi = unique[high_cuts[0]] if high_cuts.size else unique[-1]
    mask[known] = (values < lo) | (values > hi)
    if not mask.any():
        return mask, ""
    first, last = (np.datetime64(int(v), "D") for v in (lo, hi))
    return mask, f"the other rows run from {first} to {last}, with no row within {gap_days} days of these"
