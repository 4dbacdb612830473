"""Calendar effects of the simulated market: events and promotions, past and planned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic import config
from features.synthetic.catalogue import PATTERN_LUMPY, SeriesParams

EVENT_HORIZON_DAYS = 365  # the event calendar is known a year ahead


def make_events(dates: pd.DatetimeIndex, channels: list[str]) -> pd.DataFrame:
    """The ``events`` table from the first sales day to a year after the last one.

    Channel-specific events are kept only if the channel exists; ``channel`` is empty for events
    that touch every channel.
    """
    first, last = dates[0], dates[-1] + pd.Timedelta(days=EVENT_HORIZON_DAYS)
    years = range(first.year, last.year + 1)
    rows = []
    for event, (channel, _) in config.EVENT_EFFECTS.items():
        if channel and channel not in channels:
            continue
        rows += [(day, event, channel) for day in config.event_dates(event, years) if first <= day <= last]
    frame = pd.DataFrame(rows, columns=["date", "event", "channel"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values(["date", "event"], kind="stable").reset_index(drop=True)


def event_effects() -> pd.DataFrame:
    """The true demand multiplier of each event by day offset (truth table ``event_effects``)."""
    rows = [
        (event, channel, offset, mult)
        for event, (channel, effects) in config.EVENT_EFFECTS.items()
        for offset, mult in sorted(effects.items())
    ]
    return pd.DataFrame(rows, columns=["event", "channel", "offset_days", "multiplier"])


def event_log_multipliers(events: pd.DataFrame, dates: pd.DatetimeIndex, channels: list[str]) -> np.ndarray:
    """Array ``(n_channels, n_days)`` of the log demand multiplier of events on each channel and day."""
    out = np.zeros((len(channels), len(dates)))
    day0 = dates[0]
    for date, event, channel in zip(
        pd.DatetimeIndex(events["date"]), events["event"].tolist(), events["channel"].tolist(), strict=True
    ):
        effects = config.EVENT_EFFECTS[str(event)][1]
        rows = [channels.index(str(channel))] if channel else list(range(len(channels)))
        for offset, mult in effects.items():
            t = (date - day0).days + offset
            if 0 <= t < len(dates):
                out[rows, t] += np.log(mult)
    return out


@dataclass
class Promotions:
    """Past and planned promotions with their hidden effect.

    Attributes:
        series: Index of the promoted series (in :class:`SeriesParams` order).
        start: First day index (may be past the last sales day: planned).
        end: Last day index (inclusive).
        expected_uplift: What the planner expects (published in the ``promotions`` table).
        actual_uplift: The true demand multiplier during the promotion.
        discount: Price cut during the promotion (0 = display only).
    """

    series: np.ndarray
    start: np.ndarray
    end: np.ndarray
    expected_uplift: np.ndarray
    actual_uplift: np.ndarray
    discount: np.ndarray


def make_promotions(
    rng: np.random.Generator, params: SeriesParams, channels: list[str], n_days: int
) -> Promotions:
    """Draw non-overlapping promotions per series from the first day to ``FUTURE_DAYS`` after the end."""
    every = np.array([config.channel_profile(c).promo_every_days for c in channels])[params.channel_index]
    promoted = np.flatnonzero((every > 0) & (params.pattern != PATTERN_LUMPY))
    total = n_days + config.FUTURE_DAYS
    if len(promoted) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Promotions(empty, empty, empty, empty.astype(float), empty.astype(float), empty.astype(float))
    slots = int(np.ceil(total / 17)) + 1
    shape = (len(promoted), slots)
    duration = rng.integers(3, 15, shape)
    # Each gap leaves at least a week between promotions; its mean is the channel's promotion cycle.
    mean_extra = np.maximum(every[promoted] - 17.0, 5.0)[:, None]
    gap = duration + 7 + np.floor(rng.exponential(1.0, shape) * mean_extra).astype(np.int64)
    first = rng.integers(0, np.maximum(every[promoted], 1).astype(np.int64))[:, None]
    start = first + np.cumsum(gap, axis=1) - gap
    keep = (start < total) & (start >= params.launch_day[promoted][:, None])
    rows, _ = np.nonzero(keep)
    series = promoted[rows]
    start_k, duration_k = start[keep], duration[keep]
    discount = np.asarray((0.0, 0.1, 0.2, 0.3))[rng.choice(4, len(series), p=(0.3, 0.3, 0.25, 0.15))]
    expected = np.round(1.2 + 2.5 * discount + rng.uniform(0.0, 0.5, len(series)), 2)
    actual = np.round(expected * np.exp(rng.normal(0.0, 0.1, len(series))), 3)
    promos = Promotions(series, start_k, start_k + duration_k - 1, expected, actual, discount)
    _ensure_one_straddles_end(promos, n_days)
    return promos


def _ensure_one_straddles_end(promos: Promotions, n_days: int) -> None:
    # Consumers must see a promotion running across the forecast origin; move the first planned one
    # if chance produced none (it stays clear of its series' previous promotion by construction).
    if len(promos.start) == 0 or ((promos.start < n_days) & (promos.end >= n_days)).any():
        return
    future = np.flatnonzero(promos.start >= n_days)
    if len(future) == 0:
        return
    i = future[0]
    length = promos.end[i] - promos.start[i]
    previous = promos.end[(promos.series == promos.series[i]) & (promos.start < n_days)]
    new_start = max(n_days - 2, int(previous.max()) + 2 if len(previous) else 0)
    promos.start[i], promos.end[i] = new_start, max(new_start + length, n_days + 2)


def promotions_table(
    promos: Promotions, params: SeriesParams, sku_names: np.ndarray, channels: list[str],
    dates: pd.DatetimeIndex,
) -> pd.DataFrame:
    """All promotions with their hidden effect; the published table is its first five columns."""
    day0 = dates[0]
    frame = pd.DataFrame(
        {
            "sku": sku_names[params.sku_index[promos.series]],
            "channel": np.asarray(channels, dtype=object)[params.channel_index[promos.series]],
            "start": day0 + pd.to_timedelta(promos.start, unit="D"),
            "end": day0 + pd.to_timedelta(promos.end, unit="D"),
            "expected_uplift": promos.expected_uplift,
            "actual_uplift": promos.actual_uplift,
            "discount": promos.discount,
        }
    )
    return frame.sort_values(["sku", "channel", "start"], kind="stable").reset_index(drop=True)
