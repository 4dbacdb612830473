"""The simulated catalogue's master data and the hidden parameters of every SKU-channel series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic import config

CATEGORIES: tuple[str, ...] = (
    "home", "kitchen", "toys", "garden", "beauty", "sports", "electronics", "books",
)
# Peak day of year of each category's yearly cycle (garden in spring, toys before Christmas...).
CATEGORY_PEAK_DOY: tuple[int, ...] = (300, 330, 340, 130, 45, 180, 320, 250)

PATTERN_SMOOTH, PATTERN_INTERMITTENT, PATTERN_LUMPY = 0, 1, 2
PATTERN_NAMES: tuple[str, ...] = ("smooth", "intermittent", "lumpy")


@dataclass
class SeriesParams:
    """Hidden per-series parameters (one entry per SKU-channel, SKU-major, channels sorted).

    Attributes:
        sku_index: Index of the series' SKU in the ``skus`` table.
        channel_index: Index of the series' channel in ``channels``.
        pattern: 0 smooth, 1 intermittent (low-rate counts), 2 lumpy (rare bulk orders).
        level: Mean daily units before seasonality, trend, events and promotions.
        order_prob: Daily probability of a bulk order (lumpy series only).
        noise_cv: CV of the day-to-day demand rate (Gamma mixing of the Poisson counts).
        weekly_amp: Exponent on the channel's weekly profile (0 = flat week).
        yearly_amp: Amplitude of the yearly sine cycle (0 for gift sets).
        yearly_peak_doy: Day of year where the yearly cycle peaks.
        trend: Log-growth of the level per year.
        launch_day: Index of the first sales day (0 unless launched late).
        shift_day: Day the variability changes (-1: never).
        shift_up: True if the variability rises at ``shift_day``.
    """

    sku_index: np.ndarray
    channel_index: np.ndarray
    pattern: np.ndarray
    level: np.ndarray
    order_prob: np.ndarray
    noise_cv: np.ndarray
    weekly_amp: np.ndarray
    yearly_amp: np.ndarray
    yearly_peak_doy: np.ndarray
    trend: np.ndarray
    launch_day: np.ndarray
    shift_day: np.ndarray
    shift_up: np.ndarray

    def __len__(self) -> int:
        return len(self.sku_index)

    def take(self, rows: slice) -> SeriesParams:
        """The parameters of a block of series."""
        return SeriesParams(**{name: value[rows] for name, value in vars(self).items()})


@dataclass
class GiftSpikes:
    """Per-SKU shape of the November-December spike of gift sets, in days after November 1.

    The demand multiplier ramps linearly from 1 at ``start`` to ``uplift`` at ``peak``, stays there
    until ``plateau_end`` and falls back to 1 at ``end``.
    """

    is_gift: np.ndarray
    start: np.ndarray
    peak: np.ndarray
    plateau_end: np.ndarray
    end: np.ndarray
    uplift: np.ndarray


def count(share: float, n: int, *, at_least_one_from: int = 10) -> int:
    """How many of ``n`` items get a feature of the given share (at least one in catalogues >= 10)."""
    k = round(share * n)
    return max(k, 1) if n >= at_least_one_from else k


def sku_names(n_skus: int) -> np.ndarray:
    """Zero-padded SKU ids that sort like their numbers."""
    width = max(5, len(str(n_skus)))
    return np.array([f"SKU{i:0{width}d}" for i in range(1, n_skus + 1)], dtype=object)


def make_skus(rng: np.random.Generator, n_skus: int, suppliers: pd.DataFrame) -> pd.DataFrame:
    """The ``skus`` table: price, cost below price, category, supplier, MOQ and pack size."""
    price = np.round(np.maximum(np.exp(rng.normal(np.log(22.0), 0.8, n_skus)), 1.5)) - 0.01
    cost = np.round(price * rng.uniform(0.35, 0.72, n_skus), 2)
    category = np.asarray(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), n_skus)]
    # Round-robin first so every supplier (including the one without receipts) has SKUs to supply.
    n_sup = len(suppliers)
    order = rng.permutation(n_skus)
    sup_idx = np.empty(n_skus, dtype=np.int64)
    sup_idx[order] = np.arange(n_skus) % n_sup
    pack = np.asarray((1, 6, 12, 24), dtype=float)[rng.choice(4, n_skus, p=(0.4, 0.3, 0.2, 0.1))]
    is_import = suppliers["origin"].to_numpy()[sup_idx] == "import"
    moq = pack * np.where(is_import, rng.integers(4, 20, n_skus), rng.integers(1, 5, n_skus))
    return pd.DataFrame(
        {
            "sku": sku_names(n_skus),
            "unit_cost": cost,
            "unit_price": price,
            "supplier": suppliers["supplier"].to_numpy()[sup_idx],
            "category": category,
            "moq": moq,
            "pack_size": pack,
        }
    )


def make_series(
    rng: np.random.Generator, n_skus: int, channels: list[str], n_days: int
) -> tuple[SeriesParams, GiftSpikes]:
    """Draw the hidden parameters of every SKU-channel series and the gift-set spikes."""
    k = len(channels)
    n = n_skus * k
    sku_index = np.repeat(np.arange(n_skus), k)
    channel_index = np.tile(np.arange(k), n_skus)
    profiles = [config.channel_profile(c) for c in channels]
    lumpy_channel = np.array([p.lumpy for p in profiles])
    chan_level = np.array([p.level for p in profiles])
    cv_lo = np.array([p.noise_cv[0] for p in profiles])
    cv_hi = np.array([p.noise_cv[1] for p in profiles])

    # Long-tail share chosen so that about 30% of all series are mostly-zero, whatever K is.
    n_lumpy = int(lumpy_channel.sum())
    tail_share = max(
        config.MIN_LONG_TAIL_SHARE,
        (config.TARGET_INTERMITTENT_SHARE * k - n_lumpy) / max(k - n_lumpy, 1),
    )
    long_tail = np.zeros(n_skus, dtype=bool)
    long_tail[rng.choice(n_skus, count(tail_share, n_skus), replace=False)] = True

    # Popularity is log-normal and heavy-tailed so a few SKUs make most of the revenue (ABC).
    sku_level = np.exp(rng.normal(np.log(4.0), 1.05, n_skus))
    sku_level = np.where(long_tail, rng.uniform(0.03, 0.35, n_skus), np.minimum(sku_level, 400.0))
    gifts = _gift_spikes(rng, n_skus, long_tail)
    launch = _launch_days(rng, n_skus, n_days)

    category_peak = np.asarray(CATEGORY_PEAK_DOY)[rng.integers(0, len(CATEGORY_PEAK_DOY), n_skus)]
    yearly_amp = np.where(gifts.is_gift, 0.0, rng.uniform(0.0, 0.3, n_skus))
    has_trend = (rng.random(n_skus) < config.TREND_SHARE) & ~gifts.is_gift
    trend = np.where(has_trend, rng.uniform(-0.35, 0.5, n_skus), 0.0)

    pattern = np.where(
        lumpy_channel[channel_index],
        PATTERN_LUMPY,
        np.where(long_tail[sku_index], PATTERN_INTERMITTENT, PATTERN_SMOOTH),
    )
    level = sku_level[sku_index] * chan_level[channel_index]
    lumpy = pattern == PATTERN_LUMPY
    # Wholesale buys rarely but in bulk: a few orders a month that carry a fraction of retail demand.
    level = np.where(lumpy, sku_level[sku_index] * rng.uniform(0.3, 1.0, n), level)
    order_prob = np.where(lumpy, rng.uniform(0.015, 0.07, n), 1.0)
    noise_cv = rng.uniform(cv_lo[channel_index], cv_hi[channel_index])
    noise_cv = np.where(pattern == PATTERN_INTERMITTENT, rng.uniform(0.2, 0.6, n), noise_cv)
    params = SeriesParams(
        sku_index=sku_index,
        channel_index=channel_index,
        pattern=pattern,
        level=level,
        order_prob=order_prob,
        noise_cv=noise_cv,
        weekly_amp=rng.uniform(0.5, 1.5, n),
        yearly_amp=yearly_amp[sku_index],
        yearly_peak_doy=(category_peak + rng.integers(-20, 21, n_skus))[sku_index],
        trend=trend[sku_index],
        launch_day=launch[sku_index],
        shift_day=np.full(n, -1, dtype=np.int64),
        shift_up=np.zeros(n, dtype=bool),
    )
    _volatility_shifts(rng, params, gifts.is_gift, n_days)
    return params, gifts


def _gift_spikes(rng: np.random.Generator, n_skus: int, long_tail: np.ndarray) -> GiftSpikes:
    is_gift = np.zeros(n_skus, dtype=bool)
    candidates = np.flatnonzero(~long_tail)
    n_gift = min(count(config.GIFT_SET_SHARE, n_skus), len(candidates))
    is_gift[rng.choice(candidates, n_gift, replace=False)] = True
    start = rng.integers(-7, 8, n_skus)
    peak = start + rng.integers(21, 32, n_skus)  # a ramp of three to four and a half weeks
    plateau_end = rng.integers(49, 54, n_skus)  # Dec 19..23
    end = rng.integers(58, 64, n_skus)  # Dec 28..Jan 2
    return GiftSpikes(is_gift, start, peak, plateau_end, end, np.round(rng.uniform(3.0, 6.0, n_skus), 2))


def _launch_days(rng: np.random.Generator, n_skus: int, n_days: int) -> np.ndarray:
    launch = np.zeros(n_skus, dtype=np.int64)
    late = rng.choice(n_skus, count(config.LATE_LAUNCH_SHARE, n_skus), replace=False)
    if n_days < 42 or len(late) == 0:
        return launch
    # A third of the late launches has less than eight weeks of history at the end.
    recent = np.arange(len(late)) < max(1, round(len(late) / 3))
    lo_recent = max(n_days - 56, 1)
    lo_mid = max(int(0.4 * n_days), 1)
    hi = n_days - 14
    launch[late] = np.where(
        recent, rng.integers(lo_recent, hi, len(late)), rng.integers(lo_mid, max(lo_mid + 1, hi), len(late))
    )
    return launch


def _volatility_shifts(
    rng: np.random.Generator, params: SeriesParams, is_gift: np.ndarray, n_days: int
) -> None:
    # Only steady, busy series shift: Poisson noise would drown a variability change in slow ones.
    eligible = np.flatnonzero(
        (params.pattern == PATTERN_SMOOTH) & ~is_gift[params.sku_index] & (params.launch_day == 0)
    )
    n_shift = min(count(config.VOLATILITY_SHIFT_SHARE, len(params)), len(eligible))
    if n_shift == 0 or n_days < 56:
        return
    busiest = eligible[np.argsort(-params.level[eligible], kind="stable")]
    pool = busiest[: max(n_shift, len(busiest) // 2)]
    chosen = rng.choice(pool, n_shift, replace=False)
    params.shift_day[chosen] = rng.integers(int(0.35 * n_days), int(0.65 * n_days) + 1, n_shift)
    params.shift_up[chosen] = rng.random(n_shift) < 0.5
