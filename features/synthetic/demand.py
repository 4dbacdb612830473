"""Vectorised daily demand of a block of series: true mean, noisy demand, stockouts and sales."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic import config
from features.synthetic.calendar import Promotions
from features.synthetic.catalogue import PATTERN_LUMPY, GiftSpikes, SeriesParams

LUMPY_SIZE_CV = 0.5


@dataclass(frozen=True)
class Calendar:
    """Per-day quantities every series shares.

    Attributes:
        dates: The sales days.
        dow: Day of week (0 = Monday).
        doy: Day of year.
        years_from_start: Time in years since the first day (for trends).
        days_after_nov1: Days since the last November 1 before the date (gift-set spikes).
        event_log: ``(n_channels, n_days)`` log multipliers of events.
        weekly_log: ``(n_channels, 7)`` log of each channel's normalised weekly profile.
    """

    dates: pd.DatetimeIndex
    dow: np.ndarray
    doy: np.ndarray
    years_from_start: np.ndarray
    days_after_nov1: np.ndarray
    event_log: np.ndarray
    weekly_log: np.ndarray

    @classmethod
    def build(cls, dates: pd.DatetimeIndex, channels: list[str], event_log: np.ndarray) -> Calendar:
        """Derive the shared day features of ``dates``."""
        year = dates.year.to_numpy()
        season_year = np.where(dates.month.to_numpy() >= 7, year, year - 1)
        nov1 = pd.to_datetime({"year": season_year, "month": 11, "day": 1})
        weekly = np.array([config.WEEKLY_PROFILES.get(c, config.DEFAULT_WEEKLY) for c in channels])
        weekly = weekly / weekly.mean(axis=1, keepdims=True)
        return cls(
            dates=dates,
            dow=dates.dayofweek.to_numpy(),
            doy=dates.dayofyear.to_numpy(),
            years_from_start=np.arange(len(dates)) / 365.25,
            days_after_nov1=(dates - pd.DatetimeIndex(nov1)).days.to_numpy(),
            event_log=event_log,
            weekly_log=np.log(weekly),
        )


# Row-aligned output columns of the sales table and the truth, with their dtypes.
ROW_COLUMNS: dict[str, type] = {
    "units": np.float64,
    "returns": np.float64,
    "price": np.float64,
    "promo": np.int8,
    "in_stock": np.int8,
    "mean": np.float32,
    "demand": np.float32,
}


@dataclass
class BlockResult:
    """What one block of series reports besides its rows (which it writes into the output arrays)."""

    shift_series: np.ndarray
    shift_cv: np.ndarray  # (n_shifts, 4): total CV before, after; noise CV before, after
    last_mean: np.ndarray  # true mean on the last day, per series of the block
    last_in_stock: np.ndarray


def simulate_block(
    rng: np.random.Generator,
    params: SeriesParams,
    first_series: int,
    gifts: GiftSpikes,
    promos: Promotions,
    cal: Calendar,
    list_price: np.ndarray,
    return_rate: np.ndarray,
    out: dict[str, np.ndarray],
) -> BlockResult:
    """Simulate every day of the series ``first_series .. first_series + len(params)``.

    Args:
        rng: The block's own generator (blocks are independent streams of one seed).
        params: Parameters of the block's series.
        first_series: Global index of the block's first series (to pick its promotions).
        gifts: Gift-set spike shapes per SKU.
        promos: All promotions, sorted by series.
        cal: Shared calendar features.
        list_price: List price per series (SKU price times channel factor).
        return_rate: Share of sold units returned, per series.
        out: Output arrays (:data:`ROW_COLUMNS`) of exactly this block's active series-days in
            series-major, day-ascending order; filled in place.
    """
    n, n_days = len(params), len(cal.dates)
    t = np.arange(n_days)
    active = t[None, :] >= params.launch_day[:, None]
    log_mult = _log_multiplier(params, gifts, cal)
    promo_flag, promo_log, discount = _promo_matrices(promos, first_series, n, n_days)
    log_mult += promo_log

    mean = np.empty((n, n_days))
    demand = np.zeros((n, n_days))
    lumpy = params.pattern == PATTERN_LUMPY
    steady = np.flatnonzero(~lumpy)
    shift_rows, shift_cv = np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    if len(steady):
        mu = params.level[steady, None] * np.exp(log_mult[steady])
        mean[steady] = mu
        cv = np.broadcast_to(params.noise_cv[steady, None], mu.shape).copy()
        shift_rows, shift_cv = _apply_volatility_shifts(params, steady, mu, active[steady], cv)
        shape = 1.0 / cv**2
        rate = mu * rng.gamma(shape, 1.0 / shape)
        demand[steady] = rng.poisson(rate)
    bulk = np.flatnonzero(lumpy)
    if len(bulk):
        prob = np.minimum(params.order_prob[bulk, None] * np.exp(log_mult[bulk]), 0.95)
        size_mean = (params.level[bulk] / params.order_prob[bulk])[:, None]
        mean[bulk] = prob * size_mean
        k = 1.0 / LUMPY_SIZE_CV**2
        sizes = np.maximum(rng.poisson(rng.gamma(k, size_mean / k, prob.shape)), 1)
        demand[bulk] = np.where(rng.random(prob.shape) < prob, sizes, 0)

    stockout = _stockouts(rng, n, n_days) & active
    units = demand.copy()
    hit = np.nonzero(stockout)
    # A stockout day sells nothing, or what was left before the shelf emptied.
    kept = np.where(rng.random(len(hit[0])) < 0.6, 0.0, rng.uniform(0.1, 0.7, len(hit[0])))
    units[hit] = np.floor(demand[hit] * kept)

    price = np.round(list_price[:, None] * (1.0 - discount), 2)
    sold = units[active]
    out["units"][:] = sold
    rate = np.broadcast_to(return_rate[:, None], active.shape)[active]
    out["returns"][:] = rng.binomial(sold.astype(np.int64), rate)
    out["price"][:] = price[active]
    out["promo"][:] = promo_flag[active]
    out["in_stock"][:] = ~stockout[active]
    out["mean"][:] = mean[active]
    out["demand"][:] = demand[active]
    return BlockResult(
        shift_series=shift_rows + first_series,
        shift_cv=shift_cv,
        last_mean=mean[:, -1],
        last_in_stock=~stockout[:, -1],
    )


def _log_multiplier(params: SeriesParams, gifts: GiftSpikes, cal: Calendar) -> np.ndarray:
    """Log of the weekly x yearly x trend x gift-spike x event multiplier, ``(n, n_days)``."""
    weekly = cal.weekly_log[params.channel_index][:, cal.dow] * params.weekly_amp[:, None]
    phase = 2 * np.pi * (cal.doy[None, :] - params.yearly_peak_doy[:, None]) / 365.25
    yearly = np.log1p(params.yearly_amp[:, None] * np.cos(phase))
    out = weekly + yearly + params.trend[:, None] * cal.years_from_start[None, :]
    out += cal.event_log[params.channel_index]
    sku = params.sku_index
    gift_rows = np.flatnonzero(gifts.is_gift[sku])
    if len(gift_rows):
        g = sku[gift_rows]
        d = cal.days_after_nov1[None, :]
        ramp = (d - gifts.start[g, None]) / (gifts.peak[g] - gifts.start[g])[:, None]
        fall = (gifts.end[g, None] - d) / (gifts.end[g] - gifts.plateau_end[g])[:, None]
        shape = np.clip(np.minimum(ramp, fall), 0.0, 1.0)
        out[gift_rows] += np.log1p((gifts.uplift[g, None] - 1.0) * shape)
    return out


def _promo_matrices(
    promos: Promotions, first_series: int, n: int, n_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Promotion flag, log uplift and discount per series-day, from start/end difference arrays."""
    lo, hi = np.searchsorted(promos.series, [first_series, first_series + n])
    sel = slice(lo, hi)
    past = promos.start[sel] < n_days
    rows = promos.series[sel][past] - first_series
    start = promos.start[sel][past]
    stop = np.minimum(promos.end[sel][past] + 1, n_days)
    out = []
    for value in (np.ones(len(rows)), np.log(promos.actual_uplift[sel][past]), promos.discount[sel][past]):
        diff = np.zeros((n, n_days + 1))
        np.add.at(diff, (rows, start), value)
        np.add.at(diff, (rows, stop), -value)
        out.append(np.cumsum(diff[:, :n_days], axis=1))
    flag, log_uplift, discount = out
    return flag > 0.5, log_uplift, np.round(discount, 6)


def _stockouts(rng: np.random.Generator, n: int, n_days: int) -> np.ndarray:
    """Stockout days in runs of a few days, about ``STOCKOUT_DAY_SHARE`` of all days."""
    start_prob = config.STOCKOUT_DAY_SHARE / config.STOCKOUT_MEAN_RUN_DAYS
    rows, starts = np.nonzero(rng.random((n, n_days)) < start_prob)
    length = rng.geometric(1.0 / config.STOCKOUT_MEAN_RUN_DAYS, len(rows))
    diff = np.zeros((n, n_days + 1), dtype=np.int32)
    np.add.at(diff, (rows, starts), 1)
    np.add.at(diff, (rows, np.minimum(starts + length, n_days)), -1)
    return np.cumsum(diff[:, :n_days], axis=1) > 0


def total_cv(noise_cv: float, mu: np.ndarray) -> float:
    """CV of Poisson-Gamma counts around their true mean ``mu`` over a period.

    ``std(units - mu) / mean(mu)``, where each day's variance is ``mu + (noise_cv * mu)**2``.
    """
    m1 = float(mu.mean())
    return float(np.sqrt(noise_cv**2 * (mu**2).mean() + m1) / m1)


def _solve_noise_cv(target: float, mu: np.ndarray) -> float:
    # Inverse of total_cv: the noise CV that gives ``target`` total CV over this period.
    m1, m2 = float(mu.mean()), float((mu**2).mean())
    return float(np.sqrt(max((target * m1) ** 2 - m1, 0.0) / m2))


def _apply_volatility_shifts(
    params: SeriesParams, rows: np.ndarray, mu: np.ndarray, active: np.ndarray, cv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Raise or lower the noise CV from each shifting series' change day, in place in ``cv``.

    The quiet regime keeps the series' own noise CV; the loud one is solved so that the total CV
    around the true mean changes by ``VOLATILITY_SHIFT_RATIO`` exactly (in expectation).
    """
    local = np.flatnonzero(params.shift_day[rows] >= 0)
    out = np.zeros((len(local), 4))
    ratio = config.VOLATILITY_SHIFT_RATIO
    for j, r in enumerate(local):  # a few per block: the per-series work is O(n_days)
        i = rows[r]
        day = params.shift_day[i]
        before, after = mu[r, :day][active[r, :day]], mu[r, day:][active[r, day:]]
        quiet = params.noise_cv[i]
        if params.shift_up[i]:
            cv_b, cv_a = quiet, _solve_noise_cv(ratio * total_cv(quiet, before), after)
        else:
            cv_a = quiet
            cv_b = _solve_noise_cv(ratio * total_cv(quiet, after), before)
        cv[r, :day], cv[r, day:] = cv_b, cv_a
        out[j] = (total_cv(cv_b, before), total_cv(cv_a, after), cv_b, cv_a)
    return rows[local], out
