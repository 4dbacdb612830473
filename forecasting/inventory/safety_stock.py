"""Safety stock, reorder point, order-up-to level and order quantity from sample paths.

Replenishment is a periodic review with reorder point, (R, s, S): every R days the inventory
position IP = on hand + on order - backorders is compared with the reorder point s; when IP <= s an
order brings it up to S. An order placed now arrives after the lead time L, and the next chance to
order is R days later, so the reorder point must cover demand over the protection interval L + R:

- lead-time demand distribution: a Monte Carlo mixture. Each sample path gets its own lead time L
  drawn from the SKU's (recency-weighted empirical) lead-time distribution and contributes its own
  total over L + R days; summing within a path keeps the correlation between days.
- SAFETY_STOCK: s = the service-target quantile of that distribution; safety stock = s - its mean.
- JIT: s = expected demand over the *actual* mean lead time plus R, plus ``buffer_days`` of demand.
- order-up-to S = s + ``lot_reviews`` x expected demand over the review period: 0 is base stock (every
  review orders back what sold; the position after ordering is the target quantile of D(L + R), so
  the cycle service achieved is the target), 1 makes orders about one review's demand on top of it.
- classic formula beside it: SS = z * sqrt((L + R) * sd² + d² * sL²), daily mean d and sd from the
  paths, L and sL the lead time's mean and standard deviation.
- expected fill rate: 1 - (E[(D(L+R) - s)+] - E[(D(L) - s)+]) / E[D(R)], the expected shortage per
  review cycle over the expected demand per cycle (measured at s, the lowest position an order
  starts from, so it is on the safe side).

Paths shorter than L + R are extended by repeating each path's last seven days (the weekly pattern
continues); forecast a longer horizon to avoid relying on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.inventory.leadtime import LeadTimeDistribution

CHUNK_SERIES = 512
WEEK = 7


def extend_paths(values: np.ndarray, horizon: int) -> np.ndarray:
    """Paths of at least ``horizon`` days: the last seven days (or all, if fewer) repeat as needed.

    Args:
        values: ``(n_series, n_paths, h)`` daily demand.
        horizon: Days needed.

    Returns:
        ``values`` itself when long enough, else a longer copy.
    """
    have = values.shape[2]
    if horizon <= have:
        return values
    block = values[:, :, -min(WEEK, have):]
    reps = int(np.ceil((horizon - have) / block.shape[2]))
    return np.concatenate([values, np.tile(block, (1, 1, reps))], axis=2)[:, :, :horizon]


def draw_lead_times(
    distributions: Sequence[LeadTimeDistribution], uniforms: np.ndarray
) -> np.ndarray:
    """Lead times by inverse transform: ``uniforms[i, p]`` -> a draw from ``distributions[i]``.

    Sharing the uniforms between scenarios (common random numbers) makes comparisons exact: a
    stochastically longer lead time gives a path a lead time at least as long.

    Args:
        distributions: One distribution per row of ``uniforms``.
        uniforms: ``(n, n_paths)`` values in [0, 1).

    Returns:
        ``(n, n_paths)`` int days >= 1.
    """
    out = np.empty(uniforms.shape, dtype=np.int64)
    groups: dict[int, list[int]] = {}
    for i, dist in enumerate(distributions):
        groups.setdefault(id(dist), []).append(i)
    for rows in groups.values():
        dist = distributions[rows[0]]
        cdf = np.cumsum(dist.weights)
        cdf[-1] = 1.0
        idx = np.searchsorted(cdf, uniforms[rows], side="right")
        out[rows] = dist.days[np.minimum(idx, len(dist.days) - 1)]
    return out


def protection_totals(
    values: np.ndarray, lead_times: np.ndarray, review_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-path demand over L + R and over the review period that follows L.

    Args:
        values: ``(n, n_paths, h)`` daily demand paths.
        lead_times: ``(n, n_paths)`` lead time of each path, days >= 1.
        review_days: R, days >= 0.

    Returns:
        ``(d_lr, d_r)``, each ``(n, n_paths)``.
    """
    need = int(lead_times.max()) + review_days
    cum = np.cumsum(extend_paths(values, need), axis=2, dtype=np.float64)
    d_l = np.take_along_axis(cum, (lead_times - 1)[..., None], axis=2)[..., 0]
    if review_days == 0:
        return d_l, np.zeros_like(d_l)
    d_lr = np.take_along_axis(cum, (lead_times + review_days - 1)[..., None], axis=2)[..., 0]
    return d_lr, d_lr - d_l


def path_quantile(totals: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Row-wise quantile (inverted CDF: smallest value whose empirical CDF reaches the level)."""
    n_paths = totals.shape[1]
    k = np.clip(np.ceil(np.asarray(levels, dtype=float) * n_paths - 1e-9).astype(int) - 1, 0, n_paths - 1)
    ordered = np.sort(totals, axis=1)
    return np.take_along_axis(ordered, np.broadcast_to(k, (totals.shape[0],))[:, None], axis=1)[:, 0]


def expected_excess(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Row-wise E[(X - c)+] of the empirical distribution of each row of ``values`` at each ``levels`` c.

    Args:
        values: ``(n, n_paths)`` samples of X per row.
        levels: ``(n, m)`` levels c per row.

    Returns:
        ``(n, m)`` expected excess over each level.
    """
    ordered = np.sort(values, axis=1)
    n, n_paths = ordered.shape
    suffix = np.concatenate([np.cumsum(ordered[:, ::-1], axis=1)[:, ::-1], np.zeros((n, 1))], axis=1)
    # One searchsorted over all rows at once: shift each row into its own band of the number line.
    span = float(max(np.ptp(ordered), np.ptp(levels) if levels.size else 0.0, 1.0)) * 4.0
    low = float(min(ordered.min(initial=0.0), levels.min(initial=0.0)))
    offset = (np.arange(n) * span)[:, None]
    idx = np.searchsorted((ordered - low + offset).ravel(), (levels - low + offset).ravel(), side="right")
    idx = idx.reshape(levels.shape) - (np.arange(n) * n_paths)[:, None]
    above = np.take_along_axis(suffix, idx, axis=1)
    return (above - (n_paths - idx) * levels) / n_paths


def cycle_shortage(d_lr: np.ndarray, d_l: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Expected units short per review cycle at reorder points ``levels``: E[(D(L+R) - s)+] - E[(D(L) - s)+].

    The second term removes the shortage already counted in the previous cycle (the standard
    periodic-review expression), so a cycle is charged only for what runs out during its own R days.
    """
    return np.maximum(expected_excess(d_lr, levels) - expected_excess(d_l, levels), 0.0)


def fill_rate_point(
    d_lr: np.ndarray, d_l: np.ndarray, review_demand: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Smallest reorder point whose expected fill rate reaches the target (type-2 service), row-wise.

    Fill rate at s is 1 - shortage per cycle / E[D(R)] (see :func:`cycle_shortage`); only the paths'
    own L + R totals are candidates, so the answer is exact for the empirical distribution.

    Args:
        d_lr: ``(n, n_paths)`` demand over L + R per path.
        d_l: ``(n, n_paths)`` demand over L per path.
        review_demand: ``(n,)`` expected demand per review cycle.
        targets: ``(n,)`` fill-rate targets in (0, 1).

    Returns:
        ``(n,)`` reorder points.
    """
    candidates = np.sort(d_lr, axis=1)
    shortage = cycle_shortage(d_lr, d_l, candidates)
    allowed = (1.0 - np.asarray(targets))[:, None] * np.maximum(review_demand, 0.0)[:, None]
    ok = shortage <= allowed + 1e-12
    first_ok = np.where(ok.any(axis=1), ok.argmax(axis=1), candidates.shape[1] - 1)
    return np.maximum(candidates[np.arange(len(candidates)), first_ok], 0.0)


def classic_safety_stock(
    daily_mean: np.ndarray, daily_std: np.ndarray, lead_mean: np.ndarray, lead_std: np.ndarray,
    review_days: int, service_level: np.ndarray,
) -> np.ndarray:
    """Textbook SS = z * sqrt((L + R) * sd² + d² * sL²) with z the normal quantile of the target."""
    z = stats.norm.ppf(service_level)
    return z * np.sqrt((lead_mean + review_days) * daily_std**2 + daily_mean**2 * lead_std**2)


def classic_levels(
    daily_mean: np.ndarray, daily_std: np.ndarray, lead_mean: np.ndarray, lead_std: np.ndarray,
    review_days: int, service_level: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder point and order-up-to level of the classic formula: s = d (L + R) + SS, S = s + d R.

    The one place the textbook (R, s, S) levels are computed (:func:`compute_quantities` reports the
    same reorder point as ``classic_reorder_point``; the simulator's classic baselines call this).

    Returns:
        ``(s, S)``, each ``(n,)``.
    """
    s = daily_mean * (lead_mean + review_days) + classic_safety_stock(
        daily_mean, daily_std, lead_mean, lead_std, review_days, service_level)
    return s, s + daily_mean * review_days


def jit_reorder_point(daily_mean: np.ndarray, lead_mean: np.ndarray, review_days: int,
                      buffer_days: float) -> np.ndarray:
    """JIT reorder point: expected demand over the actual mean lead time + R + ``buffer_days``."""
    return daily_mean * (lead_mean + review_days + buffer_days)


def cap_change(new: np.ndarray, previous: np.ndarray, max_ratio: float) -> np.ndarray:
    """``new`` kept within ``[previous / max_ratio, previous x max_ratio]`` where ``previous`` > 0.

    Where there is no previous figure (NaN) or it was 0, ``new`` is returned as it is.
    """
    new = np.asarray(new, dtype=float)
    previous = np.asarray(previous, dtype=float)
    known = np.isfinite(previous) & (previous > 0)
    safe = np.where(known, previous, 1.0)
    return np.where(known, np.clip(new, safe / max_ratio, safe * max_ratio), new)


def round_order(quantity: np.ndarray, moq: np.ndarray | float = 0.0, pack_size: np.ndarray | float = 1.0
                ) -> np.ndarray:
    """Round positive order quantities UP to the minimum order quantity, then to whole packs.

    Args:
        quantity: Wanted units (<= 0 means no order).
        moq: Minimum order quantity (NaN or 0: none).
        pack_size: Units per pack (NaN or <= 0: 1).

    Returns:
        Units to order: 0, or at least ``moq`` and a multiple of ``pack_size``.
    """
    q = np.asarray(quantity, dtype=float)
    moq = np.nan_to_num(np.broadcast_to(np.asarray(moq, dtype=float), q.shape), nan=0.0)
    pack = np.broadcast_to(np.asarray(pack_size, dtype=float), q.shape)
    pack = np.where(np.isnan(pack) | (pack <= 0), 1.0, pack)
    wanted = np.maximum(q, moq)
    # The tolerance keeps exact multiples (e.g. 12.0 / 6.0) from being rounded up a pack by float noise.
    packs = np.ceil(wanted / pack - 1e-9)
    return np.where(q > 0, packs * pack, 0.0)


def compute_quantities(
    values: np.ndarray,
    lead_times: np.ndarray,
    review_days: int,
    service_level: np.ndarray,
    buffered: np.ndarray,
    buffer_days: float,
    lead_mean: np.ndarray,
    lead_std: np.ndarray,
    fill_target: np.ndarray | None = None,
    jit_floor: np.ndarray | None = None,
    lot_reviews: float = 1.0,
) -> pd.DataFrame:
    """Reorder point, safety stock, order-up-to level, classic SS and fill rate per series.

    Args:
        values: ``(n, n_paths, h)`` daily demand paths.
        lead_times: ``(n, n_paths)`` lead time drawn for each path.
        review_days: R.
        service_level: ``(n,)`` cycle-service targets in (0, 1).
        buffered: ``(n,)`` True where the reorder point is the distribution quantile (SAFETY_STOCK,
            seasonal window active), False where it is the JIT expected demand plus buffer days.
        buffer_days: JIT operational buffer in days of demand.
        lead_mean: ``(n,)`` mean actual lead time (JIT and the classic formula).
        lead_std: ``(n,)`` lead-time standard deviation (classic formula).
        fill_target: ``(n,)`` True where the buffered reorder point reads the service level as a
            fill-rate target (lumpy demand: a cycle target would keep a whole bulk order on the shelf).
        jit_floor: ``(n,)`` True where a buffered reorder point may never fall below the JIT one
            (SEASONAL_HYBRID: the buffer adds to the JIT stock near a peak, it never replaces it).
        lot_reviews: Review periods of expected demand between ``s`` and ``S`` (0: base stock).

    Returns:
        One row per series: ``daily_mean, daily_std, expected_demand (over L+R), review_demand,
        reorder_point, safety_stock, order_up_to, classic_safety_stock, classic_reorder_point,
        fill_rate``.
    """
    n = values.shape[0]
    parts = []
    for lo in range(0, n, CHUNK_SERIES):
        sl = slice(lo, min(lo + CHUNK_SERIES, n))
        d_lr, d_r = protection_totals(values[sl], lead_times[sl], review_days)
        expected = d_lr.mean(axis=1)
        review = d_r.mean(axis=1)
        daily = values[sl].reshape(values[sl].shape[0], -1)
        d_mean, d_std = daily.mean(axis=1), daily.std(axis=1)
        quantile = path_quantile(d_lr, service_level[sl])
        if fill_target is not None and fill_target[sl].any():
            rows = np.flatnonzero(fill_target[sl])
            quantile[rows] = fill_rate_point(d_lr[rows], d_lr[rows] - d_r[rows], review[rows],
                                             service_level[sl][rows])
        jit = jit_reorder_point(d_mean, lead_mean[sl], review_days, buffer_days)
        if jit_floor is not None:
            quantile = np.where(jit_floor[sl], np.maximum(quantile, jit), quantile)
        rop = np.where(buffered[sl], quantile, jit)
        shortage = cycle_shortage(d_lr, d_lr - d_r, rop[:, None])[:, 0]
        fill = np.where(review > 0, 1.0 - shortage / np.where(review > 0, review, 1.0), 1.0)
        classic_rop, _ = classic_levels(d_mean, d_std, lead_mean[sl], lead_std[sl], review_days,
                                        service_level[sl])
        parts.append(pd.DataFrame({
            "daily_mean": d_mean, "daily_std": d_std, "expected_demand": expected, "review_demand": review,
            "reorder_point": rop, "safety_stock": rop - expected, "order_up_to": rop + lot_reviews * review,
            "classic_safety_stock": classic_rop - d_mean * (lead_mean[sl] + review_days),
            "classic_reorder_point": classic_rop,
            "fill_rate": np.clip(fill, 0.0, 1.0),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def order_decision(
    reorder_point: np.ndarray, order_up_to: np.ndarray, inventory_position: np.ndarray,
    moq: np.ndarray | float = 0.0, pack_size: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether to order now (IP <= s) and how much (S - IP rounded up to MOQ and packs).

    Returns:
        ``(order_now, order_qty)``; ``order_qty`` is 0 where ``order_now`` is False (also when the
        position sits at s = S, e.g. a series without demand).
    """
    below = inventory_position <= reorder_point
    qty = round_order(np.where(below, order_up_to - inventory_position, 0.0), moq, pack_size)
    return below & (qty > 0), qty
