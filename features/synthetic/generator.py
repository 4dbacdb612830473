"""``generate_catalogue``: a realistic multi-channel catalogue with its ground truth, from one seed."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from features.synthetic import calendar, catalogue, config, demand, supply
from features.synthetic.catalogue import PATTERN_NAMES, GiftSpikes, SeriesParams
from features.synthetic.types import Catalogue, GroundTruth, table_columns

logger = logging.getLogger(__name__)

# Series are simulated in blocks of about this many series-days: bounded memory, vectorised work.
BLOCK_CELLS = 1_000_000

Progress = Callable[[str, int, int], None]
"""Callback ``(stage, done, total)`` called as the generator advances."""


def generate_catalogue(
    n_skus: int,
    n_channels: int,
    n_days: int,
    seed: int,
    start: str | pd.Timestamp = "2023-01-01",
    *,
    keep_mean: bool = True,
    progress: Progress | None = None,
) -> Catalogue:
    """Simulate ``n_skus`` SKUs sold on ``n_channels`` channels for ``n_days`` days.

    The same arguments give identical tables: every draw comes from ``np.random.default_rng``
    streams spawned from ``seed``.

    Args:
        n_skus: Number of SKUs, >= 1.
        n_channels: Number of channels, >= 1: own_shop, marketplace, wholesale, then channel_4...
        n_days: Days of sales history, >= 28.
        seed: Seed of every random draw, >= 0.
        start: First sales day.
        keep_mean: Keep the true daily mean and the uncensored demand in ``truth.mean``.
        progress: Optional callback ``(stage, done, total)``.

    Returns:
        The catalogue: the seven canonical tables and the ground truth.

    Raises:
        ValueError: If a parameter is out of range (the message names it and the fix).
    """
    config.check_params(n_skus=n_skus, n_channels=n_channels, n_days=n_days, seed=seed, start=start)
    n_skus, n_channels, n_days, seed = int(n_skus), int(n_channels), int(n_days), int(seed)
    report = progress or (lambda stage, done, total: None)
    master, promo_ss, supply_ss, blocks_ss = np.random.SeedSequence(int(seed)).spawn(4)
    rng = np.random.default_rng(master)
    dates = pd.date_range(pd.Timestamp(start).normalize(), periods=n_days, freq="D")
    channels = sorted(config.channel_names(n_channels))

    logger.info("Drawing %d SKUs x %d channels over %d days (seed %d)", n_skus, n_channels, n_days, seed)
    suppliers, supplier_truth = supply.make_suppliers(rng, n_skus)
    skus = catalogue.make_skus(rng, n_skus, suppliers)
    params, gifts = catalogue.make_series(rng, n_skus, channels, n_days)
    sku_names = skus["sku"].to_numpy()
    events = calendar.make_events(dates, channels)
    promos = calendar.make_promotions(np.random.default_rng(promo_ss), params, channels, n_days)
    order = np.argsort(promos.series, kind="stable")
    promos = calendar.Promotions(*(getattr(promos, f)[order] for f in vars(promos)))
    cal = demand.Calendar.build(dates, channels, calendar.event_log_multipliers(events, dates, channels))
    price_factor = np.array([config.channel_profile(c).price_factor for c in channels])
    list_price = skus["unit_price"].to_numpy()[params.sku_index] * price_factor[params.channel_index]
    return_rate = np.array([config.channel_profile(c).return_rate for c in channels])[params.channel_index]

    per_block = max(1, BLOCK_CELLS // n_days)
    bounds = list(range(0, len(params), per_block))
    block_rngs = [np.random.default_rng(s) for s in blocks_ss.spawn(len(bounds))]
    # Every series has one row per day from its launch on: rows are known before simulating, so the
    # blocks write straight into the final columns (no concatenation, half the peak memory).
    offsets = np.concatenate([[0], np.cumsum(n_days - params.launch_day)])
    rows: dict[str, np.ndarray] = {
        name: np.empty(int(offsets[-1]), dtype=dtype) for name, dtype in demand.ROW_COLUMNS.items()
    }
    results = []
    logger.info("Simulating %d series in %d blocks", len(params), len(bounds))
    for k, (lo, block_rng) in enumerate(zip(bounds, block_rngs, strict=True)):
        hi = min(lo + per_block, len(params))
        part = slice(int(offsets[lo]), int(offsets[hi]))
        results.append(
            demand.simulate_block(
                block_rng, params.take(slice(lo, hi)), lo, gifts, promos, cal, list_price[lo:hi],
                return_rate[lo:hi], {name: column[part] for name, column in rows.items()},
            )
        )
        report("sales", k + 1, len(bounds))

    logger.info("Assembling tables")
    report("tables", 0, 1)
    sales, mean = _sales_frames(rows, params, sku_names, channels, dates, keep_mean)
    del rows
    series_sku = sku_names[params.sku_index]
    series_channel = np.asarray(channels, dtype=object)[params.channel_index]
    rng_supply = np.random.default_rng(supply_ss)
    sku_units = np.bincount(params.sku_index, weights=params.level, minlength=n_skus)
    receipts, open_orders = supply.make_receipts(rng_supply, supplier_truth, skus, sku_units, dates)
    inventory = supply.make_inventory(
        rng_supply, series_sku, series_channel,
        np.concatenate([r.last_mean for r in results]), np.concatenate([r.last_in_stock for r in results]),
        open_orders, dates[-1],
    )
    promo_frame = calendar.promotions_table(promos, params, sku_names, channels, dates)
    tables = {
        "sales": sales,
        "skus": skus,
        "suppliers": suppliers,
        "receipts": receipts,
        "events": events,
        "promotions": promo_frame,
        "inventory": inventory,
    }
    tables = {name: _in_spec_order(name, frame) for name, frame in tables.items()}

    supplier_truth = supplier_truth.assign(slippage_from=dates[supply.slippage_day(n_days)])
    truth = GroundTruth(
        series=_series_truth(params, gifts, series_sku, series_channel, dates),
        spikes=_spike_truth(params, gifts, series_sku, series_channel, dates),
        volatility_shifts=_shift_truth(results, params, series_sku, series_channel, dates),
        suppliers=supplier_truth,
        promotions=promo_frame,
        event_effects=calendar.event_effects(),
        mean=mean,
        meta={
            "seed": int(seed), "n_skus": n_skus, "n_channels": n_channels, "n_days": n_days,
            "start": str(dates[0].date()), "end": str(dates[-1].date()), "channels": channels,
        },
    )
    cat = Catalogue(tables=tables, truth=truth)
    truth.meta["summary"] = cat.summary()
    report("tables", 1, 1)
    logger.info("Catalogue ready: %d sales rows", len(sales))
    return cat


def _in_spec_order(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    # Reordering copies every column: skip it for frames built in order (the big sales table).
    columns = table_columns(name)
    if list(frame.columns) == columns and isinstance(frame.index, pd.RangeIndex):
        return frame
    return frame[columns].reset_index(drop=True)


def _sales_frames(
    rows: dict[str, np.ndarray], params: SeriesParams, sku_names: np.ndarray, channels: list[str],
    dates: pd.DatetimeIndex, keep_mean: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    counts = len(dates) - params.launch_day
    sku = np.repeat(sku_names[params.sku_index], counts)
    channel = np.repeat(np.asarray(channels, dtype=object)[params.channel_index], counts)
    # Day of each row: a running index restarted at each series' launch day.
    starts = np.repeat(np.cumsum(counts) - counts - params.launch_day, counts)
    date = dates.to_numpy()[np.arange(len(sku)) - starts]
    del starts
    sales = pd.DataFrame(
        {
            "date": date,
            "sku": sku,
            "channel": channel,
            **{name: rows[name] for name in ("units", "price", "promo", "in_stock", "returns")},
        },
        copy=False,
    )
    if not keep_mean:
        return sales, None
    mean = pd.DataFrame(
        {
            "sku": sku,
            "channel": channel,
            "date": date,
            "mean": rows["mean"],
            "demand": rows["demand"],
        },
        copy=False,
    )
    return sales, mean


def _series_truth(
    params: SeriesParams, gifts: GiftSpikes, sku: np.ndarray, channel: np.ndarray, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku": sku,
            "channel": channel,
            "pattern": np.asarray(PATTERN_NAMES, dtype=object)[params.pattern],
            "level": params.level,
            "order_prob": params.order_prob,
            "noise_cv": params.noise_cv,
            "weekly_amp": params.weekly_amp,
            "yearly_amp": params.yearly_amp,
            "yearly_peak_doy": params.yearly_peak_doy,
            "trend": params.trend,
            "launch": dates.to_numpy()[params.launch_day],
            "is_gift_set": gifts.is_gift[params.sku_index],
            "volatility_shift": params.shift_day >= 0,
        }
    )


def _spike_truth(
    params: SeriesParams, gifts: GiftSpikes, sku: np.ndarray, channel: np.ndarray, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """Spike windows of every gift-set series, for each season touching the history or the next year."""
    rows = np.flatnonzero(gifts.is_gift[params.sku_index])
    columns = ["sku", "channel", "season", "start", "peak", "plateau_end", "end", "uplift", "in_history"]
    out = []
    launch = dates[0] + pd.to_timedelta(params.launch_day, unit="D")
    for season in range(dates[0].year - 1, dates[-1].year + 2):
        nov1 = pd.Timestamp(season, 11, 1)
        g = params.sku_index[rows]
        window = {
            name: nov1 + pd.to_timedelta(getattr(gifts, name)[g], unit="D")
            for name in ("start", "peak", "plateau_end", "end")
        }
        frame = pd.DataFrame({"sku": sku[rows], "channel": channel[rows], "season": season, **window,
                              "uplift": gifts.uplift[g]})
        frame["in_history"] = (frame["peak"] <= dates[-1]) & (frame["peak"] >= launch[rows])
        touches = (frame["end"] >= dates[0]) & (frame["start"] <= dates[-1] + pd.Timedelta(days=365))
        out.append(frame[touches.to_numpy()])
    if not out:
        return pd.DataFrame(columns=columns)
    spikes = pd.concat(out, ignore_index=True)[columns]
    return spikes.sort_values(["sku", "channel", "season"], kind="stable").reset_index(drop=True)


def _shift_truth(
    results: list[demand.BlockResult], params: SeriesParams, sku: np.ndarray, channel: np.ndarray,
    dates: pd.DatetimeIndex,
) -> pd.DataFrame:
    rows = np.concatenate([r.shift_series for r in results])
    cv = np.concatenate([r.shift_cv for r in results]) if len(rows) else np.zeros((0, 4))
    return pd.DataFrame(
        {
            "sku": sku[rows],
            "channel": channel[rows],
            "changed_at": dates.to_numpy()[params.shift_day[rows]],
            "cv_before": cv[:, 0],
            "cv_after": cv[:, 1],
            "noise_cv_before": cv[:, 2],
            "noise_cv_after": cv[:, 3],
        }
    )
