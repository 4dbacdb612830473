"""Seasonal spikes ahead: upcoming demand peaks per SKU-channel, seen early enough to buffer for them.

Three kinds of evidence, combined per series:

- ``yoy``: the same period in earlier years. Demand in a centred window around ``t + d`` one (or two)
  years ago, divided by the baseline of that year, predicts the uplift ``d`` days ahead. This is the
  only evidence that reaches past a short forecast horizon (a 28-day forecast cannot see day 60).
  Promotion and event days are left out (they have their own evidence), and a window must hold up
  as a whole: its units beat the baseline under the series' over-dispersion, it stands out from
  every other stretch of the same length in the history (robust z-score), and for sparse or lumpy
  series it brought more orders, not one big order.
- ``yoy_sku``: a season of the SKU's steady channels, passed on to its sparse (bulk-order) channels,
  which cannot prove a season on their own.
- ``forecast``: the forecast mean against the recent baseline.
- ``event`` / ``promotion``: known future events whose past occurrences lifted this series' demand,
  and planned promotions with a declared uplift.

The windows feed the ``SEASONAL_HYBRID`` policy, which buffers only near the peak.
"""

from __future__ import annotations

import logging
import warnings
from typing import Final

import numpy as np
import pandas as pd
from scipy.stats import norm, poisson

from features.checks import ParamCheck, check_params, is_number, is_whole
from features.dataset import Dataset
from features.keys import key_text
from features.schema import SERIES_KEY
from forecasting.signals.matrix import (
    DemandMatrix,
    argmax_in_runs,
    bridge_unknown,
    centred_sums,
    close_gaps,
    demand_matrix,
    mask_events,
    run_sums,
    runs,
    sku_totals,
)
from forecasting.signals.spike_rows import SPIKE_COLUMNS, merge_spikes, no_spikes, spike_rows

logger = logging.getLogger(__name__)

YEAR_DAYS: Final = 364  # 52 weeks: last year's same weekday, so weekly patterns line up.
WEEK: Final = 7

_CHECKS: Final = {
    "horizon_days": ParamCheck(
        lambda v: is_whole(v, 1, 300),
        "a whole number of days in 1..300",
    ),
    "min_uplift": ParamCheck(lambda v: is_number(v) and v > 1.0, "a ratio > 1 (e.g. 2.0 for doubled demand)"),
    "baseline_days": ParamCheck(
        lambda v: is_whole(v, 14) and v % 7 == 0,
        "a whole number of weeks in days, >= 14 (e.g. 56)",
    ),
    "window_days": ParamCheck(
        lambda v: is_whole(v, 1) and v % 2 == 1,
        "an odd number of days >= 1 (e.g. 7), so the window is centred",
    ),
    "alpha": ParamCheck(lambda v: is_number(v) and 0.0 < v < 1.0, "a significance level in (0, 1)"),
    "min_units": ParamCheck(lambda v: is_number(v) and v >= 0.0, "a number of units >= 0"),
    "min_z": ParamCheck(lambda v: is_number(v) and v >= 0, "a number of robust standard deviations >= 0"),
    "min_days": ParamCheck(lambda v: is_whole(v, 1), "a whole number of days >= 1"),
    "merge_gap_days": ParamCheck(lambda v: is_whole(v, 0), "a whole number of days >= 0"),
    "promotion_confidence": ParamCheck(lambda v: is_number(v) and 0.0 <= v <= 1.0, "a probability in [0, 1]"),
}


def detect_spikes(
    data: Dataset,
    forecast: pd.DataFrame | None = None,
    *,
    horizon_days: int = 91,
    min_uplift: float = 2.0,
    baseline_days: int = 56,
    window_days: int = 7,
    alpha: float = 0.001,
    min_units: float = 5.0,
    merge_gap_days: int = 3,
    min_days: int = 10,
    min_z: float = 5.0,
    promotion_confidence: float = 0.8,
) -> pd.DataFrame:
    """Find demand peaks of at least ``min_uplift`` times the baseline in the next ``horizon_days``.

    Args:
        data: Validated tables; the forecast origin is ``data.end_date``.
        forecast: Optional canonical forecast frame (``sku, channel, date, mean`` and quantiles).
        horizon_days: How far ahead to look, in days.
        min_uplift: Smallest peak / baseline ratio reported.
        baseline_days: Length of the baseline window before the origin (and before the same origin
            one year earlier); its mean daily rate without its busiest week is the baseline (every
            week counts for sparse series), so a past spike inside it does not hide the next one.
        window_days: Width of the centred window that smooths daily demand (odd).
        alpha: A last-year or event peak must beat its baseline at this significance level, with
            the baseline's own over-dispersion as noise.
        min_units: Least units in the evidence window, so near-dead series do not raise alarms.
        merge_gap_days: Windows of one series closer than this are merged into one spike.
        min_days: Least number of lifted days in a seasonal (last-year) window: a season lifts
            demand for weeks, while a few lifted days a year ago are noise or a one-off (events have
            their own source).
        min_z: Least robust z-score (median/MAD) of last year's window against every other window
            of the same length in the history: a season stands out, a noise burst does not.
        promotion_confidence: Confidence given to a planned promotion's declared uplift.

    Returns:
        One row per spike: ``sku, channel, start, peak, end`` (future dates), ``uplift`` (peak
        demand as a multiple of the baseline), ``confidence`` (0..1) and ``source`` (``yoy``, ``yoy_sku``,
        ``forecast``, ``event``, ``promotion``, or several joined by ``+``), sorted by series and start.

    Raises:
        ValueError: If a parameter is out of range or the forecast lacks its key columns.
    """
    check_params(
        "detect_spikes", _CHECKS, horizon_days=horizon_days, min_uplift=min_uplift,
        baseline_days=baseline_days, window_days=window_days, alpha=alpha, min_units=min_units,
        promotion_confidence=promotion_confidence, min_days=min_days, merge_gap_days=merge_gap_days,
        min_z=min_z,
    )
    matrix = demand_matrix(data)
    # Seasons and baselines are read without promotion and event days: those are one-off lifts
    # that the promotion and event evidence covers with their own dates.
    seasonal = DemandMatrix(matrix.keys, matrix.start, mask_events(
        demand_matrix(data, exclude_promo=True), data.events))
    base_now = _baseline(seasonal.values, matrix.n_days - 1, baseline_days)
    yoy_args = (horizon_days, float(min_uplift), baseline_days, window_days, float(alpha), float(min_units))
    parts = [
        _yoy_candidates(seasonal, *yoy_args, base_now, min_days, merge_gap_days, min_z),
        _sku_candidates(seasonal, yoy_args, base_now, min_days, merge_gap_days, min_z),
    ]
    if forecast is not None:
        parts.append(_forecast_candidates(matrix, forecast, horizon_days, min_uplift, base_now, min_units))
    if data.events is not None and not data.events.empty:
        parts.append(_event_candidates(matrix, data.events, horizon_days, min_uplift, baseline_days, alpha,
                                       min_units, base_now))
    if data.promotions is not None and not data.promotions.empty:
        parts.append(_promotion_candidates(matrix, data.promotions, horizon_days, min_uplift,
                                           promotion_confidence))
    for part in parts:
        logger.debug("spike candidates from %s: %d", part["source"].iloc[0] if len(part) else "-", len(part))
    spikes = merge_spikes([p for p in parts if not p.empty], merge_gap_days)
    logger.info("Spikes ahead: %d windows over %d series (horizon %d days, >= %.1fx).",
                len(spikes), len(matrix.keys), horizon_days, min_uplift)
    return spikes


def _baseline(values: np.ndarray, end: int, days: int) -> np.ndarray:
    """Daily rate over the ``days`` ending at column ``end`` (NaN if unknown).

    For steady series (selling on at least half the known days) the busiest week is left out, so a
    past peak inside the window does not hide the next one. For sparse and lumpy series a bulk
    order is their normal rhythm, not a peak, so every week counts.
    """
    start = end - days + 1
    if start < 0:
        return np.full(values.shape[0], np.nan)
    window = values[:, start:end + 1]
    weeks = window.reshape(values.shape[0], days // 7, 7)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        rates = np.nanmean(weeks, axis=2).astype(float)
        busiest = np.nan_to_num(np.nanmax(rates, axis=1))
        known = (~np.isnan(rates)).sum(axis=1)
        total = np.nansum(rates, axis=1)
        trimmed = (total - busiest) / np.maximum(known - 1, 1)
        steady = (window > 0).sum(axis=1) >= 0.5 * (~np.isnan(window)).sum(axis=1)
        rate = np.where(steady, trimmed, total / np.maximum(known, 1))
    return np.where(known >= 2, rate, np.nan)


def _dispersion(values: np.ndarray, end: int, days: int) -> np.ndarray:
    """Variance-to-mean ratio of daily demand in the baseline window, at least 1 (Poisson)."""
    window = values[:, max(end - days + 1, 0):end + 1].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        ratio = np.nanvar(window, axis=1) / np.nanmean(window, axis=1)
    return np.fmax(np.nan_to_num(ratio, nan=1.0), 1.0)


def _yoy_candidates(
    matrix: DemandMatrix, horizon: int, min_uplift: float, baseline_days: int, width: int, alpha: float,
    min_units: float, base_now: np.ndarray, min_days: int, gap_days: int, min_z: float,
) -> pd.DataFrame:
    """Peaks ahead implied by the same weeks of earlier years, each scaled by that year's baseline."""
    origin = matrix.n_days - 1
    half = width // 2
    ratios, raws, bases = [], [], []
    lag = YEAR_DAYS
    while origin - lag - baseline_days + 1 >= 0 and origin - lag + 1 - half >= 0:
        base = _baseline(matrix.values, origin - lag, baseline_days)
        sums, counts = centred_sums(matrix.values, origin - lag + 1, horizon, width)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(counts >= (width + 1) // 2, sums / np.maximum(counts, 1), np.nan)
            ratios.append(np.where(base[:, None] > 0, rate / base[:, None], np.nan))
        raws.append(matrix.values[:, origin - lag + 1:origin - lag + 1 + horizon].astype(float))
        bases.append(base)
        lag += YEAR_DAYS
    if not ratios:
        logger.info("Spikes: less than a year of history before the baseline window; no year-over-year view.")
        return no_spikes()
    stack = np.stack(ratios)
    with _quiet():
        ratio = np.nanmean(stack, axis=0)
        agree = np.nanmean(np.where(np.isnan(stack), np.nan, stack >= min_uplift), axis=0)
    # Event days are unknown here: a season runs through them when it is high on both sides.
    high = (np.nan_to_num(ratio) >= min_uplift) & (base_now[:, None] > 0)
    rows, starts, ends = bridge_unknown(high, np.isnan(ratio))
    rows, starts, ends = close_gaps(rows, starts, ends, gap_days)
    zeros = np.zeros((high.shape[0], 1))
    n_high = np.concatenate([zeros, np.cumsum(high, axis=1)], axis=1)
    long_enough = n_high[rows, ends] - n_high[rows, starts] >= min_days
    rows, starts, ends = rows[long_enough], starts[long_enough], ends[long_enough]
    if rows.size == 0:
        return no_spikes()
    # Evidence of a whole window: its units last year(s) against the baseline rate over its known
    # days, with the baseline's own over-dispersion as noise.
    obs = np.zeros(rows.size)
    exp = np.zeros(rows.size)
    for raw, base in zip(raws, bases, strict=True):
        units, known = run_sums(raw, rows, starts, ends)
        obs += units
        exp += np.nan_to_num(base[rows]) * known
    # Over-dispersion from the whole history: a short baseline of a lumpy series may hold no bulk
    # order at all and would make one order last year look like a season.
    phi = _dispersion(matrix.values, origin, matrix.n_days)[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = norm.sf(np.nan_to_num((obs - exp) / np.sqrt(phi * exp), nan=-np.inf))
    keep = (p_value < alpha) & (obs >= min_units)
    rows, starts, ends, p_value = rows[keep], starts[keep], ends[keep], p_value[keep]
    # A season stands out from every other stretch of the same length in the past year; a burst of
    # heavy-tailed noise or a few bulk orders does not.
    # Sparse and lumpy series (selling on fewer than half the days) are judged on how often they
    # sold: a season brings more orders, a burst of noise one big order.
    history = matrix.values[:, :origin + 1]
    known_days = (~np.isnan(history)).sum(axis=1)
    share = np.where(known_days > 0, (history > 0).sum(axis=1) / np.maximum(known_days, 1), 0.0)[rows]
    sparse = share < 0.5
    z = np.full(rows.size, np.inf)
    z[~sparse] = _robust_z(matrix.values, origin - YEAR_DAYS, rows[~sparse], starts[~sparse], ends[~sparse])
    sold_days, known = np.zeros(rows.size), np.zeros(rows.size)
    for raw in raws:
        sold = np.where(np.isnan(raw), np.nan, (raw > 0).astype(float))
        days, n = run_sums(sold, rows, starts, ends)
        sold_days += days
        known += n
    p_orders = poisson.sf(sold_days - 1, np.maximum(share * known, 1e-9))
    keep = np.where(sparse, p_orders < alpha, z >= min_z)
    rows, starts, ends, p_value = rows[keep], starts[keep], ends[keep], p_value[keep]
    if rows.size == 0:
        return no_spikes()
    peaks = argmax_in_runs(ratio, rows, starts, ends)
    agree = np.nan_to_num(agree[rows, peaks], nan=1.0)
    conf = agree * (1.0 - p_value)
    return spike_rows(matrix, rows, starts, ends, peaks, ratio[rows, peaks], conf, "yoy")


def _robust_z(
    values: np.ndarray, offset: int, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """How far each window of last year (columns ``offset + 1 + start .. offset + end``) stands above
    the other windows of the same length in the history, in robust standard deviations (MAD)."""
    out = np.zeros(rows.size)
    csum_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, (row, start, end) in enumerate(zip(rows, starts, ends, strict=True)):
        if row not in csum_cache:
            series = values[row, :offset + YEAR_DAYS + 1].astype(float)
            known = ~np.isnan(series)
            csum_cache = {row: (np.concatenate([[0.0], np.cumsum(np.where(known, series, 0.0))]),
                                np.concatenate([[0], np.cumsum(known)]))}
        csum, ccount = csum_cache[row]
        length = int(end - start)
        count = ccount[length:] - ccount[:-length]
        sums = csum[length:] - csum[:-length]
        means = np.where(count >= max(length // 2, 1), sums / np.maximum(count, 1), np.nan)
        lo = offset + 1 + int(start)
        window = means[lo] if lo < means.size else np.nan
        others = np.delete(means, np.arange(max(lo - length, 0), min(lo + length, means.size)))
        others = others[~np.isnan(others)]
        if others.size < 10 or np.isnan(window):
            out[k] = np.inf  # too little history to judge: the other evidence decides
            continue
        median = np.median(others)
        # Sparse series have a MAD of zero; the spread of the lower 90% of windows is their scale.
        body = others[others <= np.quantile(others, 0.9)]
        scale = max(1.4826 * np.median(np.abs(others - median)), float(np.std(body)), 1e-9)
        out[k] = (window - median) / scale
    return out


def _sku_candidates(
    matrix: DemandMatrix, yoy_args: tuple[int, float, int, int, float, float], base_now: np.ndarray,
    min_days: int, gap_days: int, min_z: float,
) -> pd.DataFrame:
    """Seasons of a SKU's total demand, passed on to its sparse channels.

    A season belongs to the product: a channel selling in a few bulk orders cannot prove it on its
    own, but the SKU's busier channels can. Only sparse channels that still sell today inherit it.
    """
    known = (~np.isnan(matrix.values)).sum(axis=1)
    sparse = (matrix.values > 0).sum(axis=1) < 0.5 * known
    heirs = matrix.keys[sparse & (base_now > 0)]
    if heirs.empty or sparse.all():
        return no_spikes()
    # The evidence comes from the steady channels only: bulk orders would make the total noisy.
    totals = sku_totals(DemandMatrix(matrix.keys[~sparse].reset_index(drop=True), matrix.start,
                                     matrix.values[~sparse]))
    sku_base = _baseline(totals.values, totals.n_days - 1, yoy_args[2])
    found = _yoy_candidates(totals, *yoy_args, sku_base, min_days, gap_days, min_z)
    out = found.drop(columns="channel").merge(heirs, on="sku")
    return out.assign(source="yoy_sku")[SPIKE_COLUMNS] if not out.empty else no_spikes()


def _forecast_candidates(
    matrix: DemandMatrix, forecast: pd.DataFrame, horizon: int, min_uplift: float, base_now: np.ndarray,
    min_units: float,
) -> pd.DataFrame:
    """Peaks where the forecast mean reaches ``min_uplift`` times the recent baseline."""
    missing = [c for c in (*SERIES_KEY, "date", "mean") if c not in forecast.columns]
    if missing:
        raise ValueError(
            f"The forecast lacks the column(s) {missing}. Pass the canonical forecast frame "
            "(sku, channel, date, mean and quantile columns)."
        )
    origin = matrix.end
    frame = forecast.assign(date=pd.to_datetime(forecast["date"]))
    frame = frame[(frame["date"] > origin) & (frame["date"] <= origin + pd.Timedelta(days=horizon))]
    row_of = pd.Series(np.arange(len(matrix.keys)), index=pd.MultiIndex.from_frame(matrix.keys))
    rows = row_of.reindex(pd.MultiIndex.from_frame(key_text(frame))).to_numpy()
    known = ~np.isnan(rows)
    frame, rows = frame[known], rows[known].astype(int)
    day = (frame["date"] - origin).dt.days.to_numpy() - 1
    mean = np.full((len(matrix.keys), horizon), np.nan)
    mean[rows, day] = frame["mean"].to_numpy(dtype=float)
    threshold = min_uplift * base_now
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mean / base_now[:, None]
    # The chance that demand clears the threshold, read off the forecast quantiles at each day.
    levels = sorted(float(c) for c in frame.columns if _is_level(c))
    prob = np.full(mean.shape, 0.5)
    if levels:
        qvals = frame[[_level_column(frame, q) for q in levels]].to_numpy(dtype=float)
        prob[rows, day] = 1.0 - _level_at(qvals, np.asarray(levels), threshold[rows])
    run_rows, starts, ends = runs(np.nan_to_num(ratio) >= min_uplift)
    if run_rows.size == 0:
        return no_spikes()
    csum = np.concatenate([np.zeros((mean.shape[0], 1)), np.cumsum(np.nan_to_num(mean), axis=1)], axis=1)
    run_units = csum[run_rows, ends] - csum[run_rows, starts]
    keep = run_units >= min_units
    run_rows, starts, ends = run_rows[keep], starts[keep], ends[keep]
    if run_rows.size == 0:  # every high stretch was too small to count
        return no_spikes()
    peaks = argmax_in_runs(ratio, run_rows, starts, ends)
    # A peak must hold over a week: a strong weekday (every Saturday at 3x) is weekly seasonality,
    # not a spike to buffer for, so the centred 7-day mean at the peak must clear the uplift too.
    padded = np.pad(mean, ((0, 0), (WEEK // 2, WEEK // 2)), constant_values=np.nan)
    sums, counts = centred_sums(padded, WEEK // 2, horizon, WEEK)
    with np.errstate(invalid="ignore", divide="ignore"):
        weekly_ratio = (sums / counts) / base_now[:, None]
    sustained = np.nan_to_num(weekly_ratio[run_rows, peaks]) >= min_uplift
    run_rows, starts, ends, peaks = run_rows[sustained], starts[sustained], ends[sustained], peaks[sustained]
    if run_rows.size == 0:
        return no_spikes()
    return spike_rows(matrix, run_rows, starts, ends, peaks, ratio[run_rows, peaks], prob[run_rows, peaks],
                  "forecast")


def _event_candidates(
    matrix: DemandMatrix, events: pd.DataFrame, horizon: int, min_uplift: float, baseline_days: int,
    alpha: float, min_units: float, base_now: np.ndarray,
) -> pd.DataFrame:
    """Known future events whose past occurrences lifted a series by at least ``min_uplift``."""
    origin = matrix.end
    ev = events.assign(date=pd.to_datetime(events["date"]))
    channel = ev["channel"].fillna("").astype(str) if "channel" in ev else pd.Series("", index=ev.index)
    ev = ev.assign(channel=channel)
    future = ev[(ev["date"] > origin) & (ev["date"] <= origin + pd.Timedelta(days=horizon))]
    past = ev[ev["date"] <= origin]
    out = []
    channels = matrix.keys["channel"].to_numpy()
    for (name, chan), dates in future.groupby(["event", "channel"], observed=True)["date"]:
        history = past[(past["event"] == name) & ((past["channel"] == chan) | (past["channel"] == ""))]
        cols = [matrix.column(d) for d in history["date"].unique()]
        cols = [c for c in cols if c - 7 - baseline_days + 1 >= 0]
        if not cols:
            continue
        # The week before an event often already builds up: the baseline ends a week earlier.
        obs = np.nansum([matrix.values[:, c] for c in cols], axis=0).astype(float)
        exp = np.nansum([_baseline(matrix.values, c - 7, baseline_days) for c in cols], axis=0)
        phi = np.mean([_dispersion(matrix.values, c - 7, baseline_days) for c in cols], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = obs / exp
            p_value = norm.sf(np.nan_to_num((obs - exp) / np.sqrt(phi * exp), nan=-np.inf))
        hit = (ratio >= min_uplift) & (p_value < alpha) & (obs >= min_units) & (base_now > 0)
        if chan:
            hit &= channels == chan
        for day in sorted(dates.unique()):
            col = int((pd.Timestamp(day) - origin).days) - 1
            rows = np.flatnonzero(hit)
            out.append(spike_rows(matrix, rows, np.full(rows.size, col), np.full(rows.size, col + 1),
                              np.full(rows.size, col), ratio[rows], 1.0 - p_value[rows], "event"))
    return pd.concat(out, ignore_index=True) if out else no_spikes()


def _promotion_candidates(
    matrix: DemandMatrix, promotions: pd.DataFrame, horizon: int, min_uplift: float, confidence: float,
) -> pd.DataFrame:
    """Planned promotions ahead whose declared ``expected_uplift`` reaches ``min_uplift``."""
    if "expected_uplift" not in promotions:
        return no_spikes()
    origin = matrix.end
    last = origin + pd.Timedelta(days=horizon)
    promo = promotions.assign(
        start=pd.to_datetime(promotions["start"]), end=pd.to_datetime(promotions["end"])
    )
    promo = promo[
        (promo["expected_uplift"] >= min_uplift) & (promo["end"] > origin) & (promo["start"] <= last)
    ]
    start = promo["start"].where(promo["start"] > origin, origin + pd.Timedelta(days=1))
    return pd.DataFrame({
        "sku": promo["sku"].astype(str), "channel": promo["channel"].astype(str), "start": start,
        "peak": start, "end": promo["end"].where(promo["end"] <= last, last),
        "uplift": promo["expected_uplift"].astype(float),
        "confidence": float(confidence), "source": "promotion",
    })[SPIKE_COLUMNS].reset_index(drop=True)


def _level_at(qvals: np.ndarray, levels: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Quantile level at which each row's quantile function reaches ``value`` (linear in between,
    clamped to the outermost levels)."""
    k = levels.size
    if k == 1:
        return np.full(value.shape, float(levels[0]))
    i = np.clip((qvals < value[:, None]).sum(axis=1), 1, k - 1)
    lo, hi = qvals[np.arange(len(i)), i - 1], qvals[np.arange(len(i)), i]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip(np.nan_to_num((value - lo) / (hi - lo), nan=0.0), 0.0, 1.0)
    return levels[i - 1] + frac * (levels[i] - levels[i - 1])


def _is_level(column: object) -> bool:
    try:
        return 0.0 < float(str(column)) < 1.0
    except ValueError:
        return False


def _level_column(frame: pd.DataFrame, level: float) -> object:
    return next(c for c in frame.columns if _is_level(c) and float(str(c)) == level)


def _quiet() -> warnings.catch_warnings:
    """Silence numpy's 'mean of empty slice': all-unknown windows are expected and give NaN."""
    return warnings.catch_warnings(action="ignore", category=RuntimeWarning)
