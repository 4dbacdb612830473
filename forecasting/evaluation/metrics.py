"""Forecast accuracy: M5 weighted scaled pinball loss, interval coverage, RMSSE and bias.

``evaluate`` scores a canonical forecast frame against actual sales, scaling each series by its own
in-sample history the M5 way, and breaks the scores down by any grouping column (model, fold,
segment...). Censored (stockout) days in the actuals are not scored: their units are not demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from features.schema import M5_QUANTILES, SERIES_KEY, quantile_column
from models.losses import CENTRAL_INTERVALS, interval_hits, pinball_loss, safe_scale, upper_coverage

KEY = list(SERIES_KEY)
WEIGHT_WINDOW_DAYS = 28


def series_scales(history: pd.DataFrame) -> pd.DataFrame:
    """M5 scales of every series in a sales history.

    Args:
        history: Sales rows ``sku, channel, date, units`` (optional ``censored``, ``price``).

    Returns:
        One row per series with ``scale`` (mean absolute first difference from the first non-zero
        sale, fallback per :func:`models.losses.safe_scale`), ``scale2`` (mean squared first
        difference, same fallback squared), ``level`` (mean units) and ``weight`` input ``revenue``
        (units x price over the last 28 days of history, NaN without prices).
    """
    # One pass over numpy arrays in (series, date) order: the pandas groupby version (a sort, three
    # grouped transforms and an aggregation) took 9 s a call on 30,000 series x 730 days.
    keys = pd.DataFrame({k: history[k].to_numpy() for k in KEY})  # plain values, as the output has
    group = keys.groupby(KEY, sort=True).ngroup().to_numpy()
    day = history["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, group))
    group, day = group[order], day[order]
    n = int(group.max()) + 1 if len(group) else 0
    units = history["units"].to_numpy(dtype=float)[order]
    if "censored" in history:
        units = np.where(history["censored"].to_numpy(dtype=bool)[order], np.nan, units)
    first_row = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, dtype=bool)
    # A series has started once it sold (censored days count as no sale); M5 scales its differences
    # from the day after the first sale on: a launch day's difference is against a zero before launch.
    sold = np.nan_to_num(units) != 0
    first_sale = np.full(n, len(units))
    np.minimum.at(first_sale, group[sold], np.flatnonzero(sold))
    position = np.arange(len(units))
    prev_started = ~first_row & (position - 1 >= first_sale[group])
    diff = np.full(len(units), np.nan)
    diff[1:] = units[1:] - units[:-1]
    diff[~prev_started] = np.nan
    end = day.max() if len(day) else 0
    recent = day > end - WEIGHT_WINDOW_DAYS
    if "price" in history:
        price = history["price"].to_numpy(dtype=float)[order]
        revenue = np.where(recent, np.nan_to_num(units) * price, 0.0)
        has_price = recent & ~np.isnan(price)
    else:
        revenue, has_price = np.zeros(len(units)), np.zeros(len(units), dtype=bool)

    def nan_mean(values: np.ndarray) -> np.ndarray:
        ok = ~np.isnan(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(group[ok], values[ok], minlength=n) / np.bincount(group[ok], minlength=n)

    out = keys.iloc[order[first_row]].reset_index(drop=True)
    level = nan_mean(units)
    out["scale"] = safe_scale(nan_mean(np.abs(diff)), level)
    out["scale2"] = safe_scale(nan_mean(diff**2), level**2)
    out["level"] = level
    # Revenue of the recent days with a price (NaN prices count as none); NaN for a series without any.
    out["revenue"] = np.where(np.bincount(group, has_price, minlength=n) > 0,
                              np.bincount(group, np.nan_to_num(revenue), minlength=n), np.nan)
    return out


def _series_weights(scales: pd.DataFrame, weights: Literal["revenue"] | None) -> pd.Series:
    """Raw (unnormalised) weight per series: revenue where every series has a price, else 1."""
    if weights == "revenue" and scales["revenue"].notna().all() and scales["revenue"].sum() > 0:
        return scales["revenue"].astype(float)
    return pd.Series(1.0, index=scales.index)


def scored_rows(
    forecast: pd.DataFrame, actuals: pd.DataFrame, quantiles: Sequence[float]
) -> pd.DataFrame:
    """The forecast rows that have an actual, with its ``units``; censored days are left out.

    Raises:
        ValueError: The forecast lacks the keys, ``mean`` or one of the ``quantiles``' columns.
    """
    missing = [c for c in [*KEY, "date", "mean", *map(quantile_column, quantiles)] if c not in forecast]
    if missing:
        raise ValueError(
            f"The forecast frame lacks the columns {missing}. Predict those quantiles or pass the "
            "'quantiles' the forecast has."
        )
    act = actuals[[*KEY, "date", "units", *(["censored"] if "censored" in actuals else [])]]
    rows = forecast.merge(act, on=[*KEY, "date"], how="inner")
    if "censored" in rows:
        rows = rows[~rows["censored"].astype(bool)]
    return rows.reset_index(drop=True)


def evaluate(
    forecast: pd.DataFrame,
    actuals: pd.DataFrame,
    history: pd.DataFrame,
    *,
    quantiles: Sequence[float] = M5_QUANTILES,
    weights: Literal["revenue"] | None = "revenue",
    group_by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score a forecast against actual sales.

    Args:
        forecast: Canonical forecast rows (``sku, channel, date, mean`` and the quantile columns),
            plus any ``group_by`` columns.
        actuals: Sales rows ``sku, channel, date, units`` over the forecast window; rows with
            ``censored`` True are not scored.
        history: Sales up to the forecast origin: sets each series' scale and revenue weight.
        quantiles: Levels scored by the pinball loss (M5's nine by default).
        weights: ``"revenue"``: WSPL weights are each series' revenue over the last 28 days of history
            (M5 style) when every series has prices; otherwise, or with None, equal weights.
        group_by: Column(s) of ``forecast`` to break the scores down by (e.g. ``"model"``).

    Returns:
        One row per group with ``wspl`` (weighted scaled pinball loss), ``mean_spl`` (unweighted mean
        over series), ``coverage_50/67/95/99`` (share of actuals inside the central intervals whose
        levels are among the forecast's columns), ``rmsse`` (weighted), ``bias`` (mean error / mean
        actual), ``n_series`` and ``n_days``.
    """
    qs = tuple(sorted(float(q) for q in quantiles))
    groups = [group_by] if isinstance(group_by, str) else list(group_by or [])
    rows = scored_rows(forecast, actuals, qs)
    scales = series_scales(history)
    scales["raw_weight"] = _series_weights(scales, weights)
    rows = rows.merge(scales[[*KEY, "scale", "scale2", "raw_weight"]], on=KEY, how="left")
    # A series without history (none before the origin) is scored in plain units.
    rows[["scale", "scale2"]] = rows[["scale", "scale2"]].fillna(1.0)
    rows["raw_weight"] = rows["raw_weight"].fillna(0.0)
    pred = rows[[quantile_column(q) for q in qs]].to_numpy(float)
    y = rows["units"].to_numpy(float)
    rows["spl"] = pinball_loss(y, pred, qs).mean(axis=1) / rows["scale"].to_numpy()
    rows["sq_err"] = (y - rows["mean"].to_numpy(float)) ** 2 / rows["scale2"].to_numpy()
    rows["err"] = rows["mean"].to_numpy(float) - y
    levels = set(qs)
    for nominal, (lo, hi) in CENTRAL_INTERVALS.items():
        if lo in levels and hi in levels:
            rows[f"hit_{round(nominal * 100)}"] = interval_hits(
                y, rows[quantile_column(lo)].to_numpy(float), rows[quantile_column(hi)].to_numpy(float)
            )
    per_series = rows.groupby([*groups, *KEY], sort=True, dropna=False, observed=True).agg(
        spl=("spl", "mean"),
        msse=("sq_err", "mean"),
        raw_weight=("raw_weight", "first"),
    )
    per_series["rmsse"] = np.sqrt(per_series["msse"])
    summary = []
    series_groups = (per_series.groupby(groups, sort=True, dropna=False, observed=True) if groups
                     else [((), per_series)])
    row_groups: dict[object, pd.DataFrame] = (
        dict(iter(rows.groupby(groups, sort=True, dropna=False, observed=True))) if groups else {(): rows}
    )
    for key, ps in series_groups:
        key_t = key if isinstance(key, tuple) else (key,)
        r = row_groups[key if groups else ()]
        w = ps["raw_weight"].to_numpy(float)
        w = w / w.sum() if w.sum() > 0 else np.full(len(ps), 1.0 / max(len(ps), 1))
        record: dict[str, object] = dict(zip(groups, key_t, strict=False))
        record["wspl"] = float(np.sum(w * ps["spl"].to_numpy()))
        record["mean_spl"] = float(ps["spl"].mean())
        for nominal in CENTRAL_INTERVALS:
            col = f"hit_{round(nominal * 100)}"
            record[f"coverage_{round(nominal * 100)}"] = float(r[col].mean()) if col in r else np.nan
        record["rmsse"] = float(np.sum(w * ps["rmsse"].to_numpy()))
        mean_actual = float(r["units"].mean()) if len(r) else np.nan
        record["bias"] = float(r["err"].mean() / mean_actual) if mean_actual else np.nan
        record["n_series"] = len(ps)
        record["n_days"] = len(r)
        summary.append(record)
    return pd.DataFrame(summary)


def series_spl(
    forecast: pd.DataFrame,
    actuals: pd.DataFrame,
    history: pd.DataFrame,
    *,
    quantiles: Sequence[float] = M5_QUANTILES,
) -> pd.DataFrame:
    """Scaled pinball loss per series (mean over days and levels), for per-series comparisons."""
    qs = tuple(sorted(float(q) for q in quantiles))
    rows = scored_rows(forecast, actuals, qs)
    scales = series_scales(history)
    rows = rows.merge(scales[[*KEY, "scale"]], on=KEY, how="left")
    rows["scale"] = rows["scale"].fillna(1.0)
    pred = rows[[quantile_column(q) for q in qs]].to_numpy(float)
    rows["spl"] = pinball_loss(rows["units"].to_numpy(float), pred, qs).mean(axis=1) / rows["scale"]
    return rows.groupby(KEY, sort=True, observed=True)["spl"].mean().reset_index()


def total_coverage(paths_totals_quantile: np.ndarray, actual_totals: np.ndarray) -> float:
    """Share of series whose actual L-day total is at or below the predicted quantile of the total.

    Args:
        paths_totals_quantile: Per series, a quantile (e.g. 95%) of the L-day total read from sample
            paths (``np.quantile(paths.totals(L), 0.95, axis=1)``).
        actual_totals: Per series, the observed L-day total; NaN (e.g. a window with stockout days)
            is left out.

    Returns:
        The one-sided coverage, to compare with the quantile's level; NaN if nothing to score.
    """
    q = np.asarray(paths_totals_quantile, dtype=float)
    a = np.asarray(actual_totals, dtype=float)
    if q.shape != a.shape:
        raise ValueError(
            f"The 'paths_totals_quantile' and 'actual_totals' must align (one per series). "
            f"Got shapes {q.shape} and {a.shape}."
        )
    return upper_coverage(a, q)
