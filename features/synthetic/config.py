"""Parameters of the synthetic catalogue: their checks, the channel behaviours and the event effects.

Every number that shapes the simulated world lives here, so the generator modules only apply it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from features.checks import is_whole

BASE_CHANNELS: tuple[str, ...] = ("own_shop", "marketplace", "wholesale")

# Mon..Sun multipliers (normalised to mean 1 when used): shoppers buy more at the weekend on the
# own shop, the marketplace peaks on Sunday evenings, wholesale customers only order on workdays.
WEEKLY_PROFILES: dict[str, tuple[float, ...]] = {
    "own_shop": (1.00, 0.95, 0.95, 1.00, 1.05, 1.15, 1.10),
    "marketplace": (1.05, 1.00, 0.95, 0.95, 0.95, 1.00, 1.15),
    "wholesale": (1.30, 1.30, 1.30, 1.30, 1.20, 0.20, 0.10),
}
DEFAULT_WEEKLY: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.05)


@dataclass(frozen=True)
class ChannelProfile:
    """How demand behaves on one channel.

    Attributes:
        level: Multiplier of a SKU's base daily demand.
        noise_cv: Range of the day-to-day coefficient of variation of the demand rate.
        lumpy: Demand comes as rare bulk orders (Bernoulli order x order size).
        promo_every_days: Mean days between promotion starts; 0 = no promotions.
        price_factor: Multiplier of the SKU's list price on this channel.
        return_rate: Share of sold units that come back (recorded in ``returns`` on the sale day).
    """

    level: float
    noise_cv: tuple[float, float]
    lumpy: bool
    promo_every_days: float
    price_factor: float
    return_rate: float


CHANNEL_PROFILES: dict[str, ChannelProfile] = {
    "own_shop": ChannelProfile(1.0, (0.15, 0.35), False, 75.0, 1.0, 0.04),
    "marketplace": ChannelProfile(1.6, (0.35, 0.6), False, 150.0, 1.05, 0.07),
    "wholesale": ChannelProfile(1.0, (0.0, 0.0), True, 0.0, 0.75, 0.01),
}
# Channels beyond the three named ones behave like a smaller own shop without promotions.
EXTRA_CHANNEL_PROFILE = ChannelProfile(0.5, (0.25, 0.5), False, 0.0, 1.0, 0.03)

# Share of SKU-channels that should be intermittent (mostly zero days) across the catalogue.
TARGET_INTERMITTENT_SHARE = 0.30
MIN_LONG_TAIL_SHARE = 0.05
GIFT_SET_SHARE = 0.05
LATE_LAUNCH_SHARE = 0.10
TREND_SHARE = 0.30
VOLATILITY_SHIFT_SHARE = 0.08
VOLATILITY_SHIFT_RATIO = 3.0  # the shift of the total CV around the true mean, x or / this
STOCKOUT_DAY_SHARE = 0.015
STOCKOUT_MEAN_RUN_DAYS = 4.0
FUTURE_DAYS = 90  # how far events and promotions reach past the last sales date

# Event effects: (event, channel or "" for all, month/day rule, {offset_days: multiplier}).
EVENT_EFFECTS: dict[str, tuple[str, dict[int, float]]] = {
    "valentines_day": ("own_shop", {-3: 1.2, -2: 1.3, -1: 1.4, 0: 1.2}),
    "prime_day": ("marketplace", {0: 2.2, 1: 1.7}),
    "back_to_school": ("", {0: 1.15, 1: 1.15, 2: 1.1}),
    "black_friday": ("", {-1: 1.3, 0: 2.5, 1: 1.8, 2: 1.5}),
    "cyber_monday": ("", {0: 2.0, 1: 1.2}),
    "christmas": ("", {-6: 1.25, -5: 1.3, -4: 1.35, -3: 1.3, -2: 1.1, -1: 0.7, 0: 0.3, 1: 0.6}),
    "new_year": ("", {0: 0.5, 1: 0.9}),
}


def event_dates(event: str, years: range) -> list[pd.Timestamp]:
    """The dates of ``event`` in ``years`` (calendar rules of the simulated market)."""
    out: list[pd.Timestamp] = []
    for year in years:
        if event == "valentines_day":
            out.append(pd.Timestamp(year, 2, 14))
        elif event == "prime_day":  # second Tuesday of July
            out.append(_nth_weekday(year, 7, 1, 2))
        elif event == "back_to_school":  # first Monday of September
            out.append(_nth_weekday(year, 9, 0, 1))
        elif event == "black_friday":  # fourth Friday of November
            out.append(_nth_weekday(year, 11, 4, 4))
        elif event == "cyber_monday":
            out.append(_nth_weekday(year, 11, 4, 4) + pd.Timedelta(days=3))
        elif event == "christmas":
            out.append(pd.Timestamp(year, 12, 25))
        elif event == "new_year":
            out.append(pd.Timestamp(year, 1, 1))
        else:
            raise KeyError(f"Unknown event {event!r}. Known: {sorted(EVENT_EFFECTS)}.")
    return out


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> pd.Timestamp:
    first = pd.Timestamp(year, month, 1)
    shift = (weekday - first.weekday()) % 7
    return first + pd.Timedelta(days=shift + 7 * (n - 1))


def channel_names(n_channels: int) -> list[str]:
    """The first ``n_channels`` channel names: the three named channels, then ``channel_4``..."""
    named = list(BASE_CHANNELS[:n_channels])
    return named + [f"channel_{k}" for k in range(len(named) + 1, n_channels + 1)]


def channel_profile(channel: str) -> ChannelProfile:
    """The behaviour of ``channel`` (extra channels share one profile)."""
    return CHANNEL_PROFILES.get(channel, EXTRA_CHANNEL_PROFILE)


@dataclass(frozen=True)
class _Check:
    test: Callable[[Any], bool]
    expected: str
    fix: str


def _is_date(value: Any) -> bool:
    try:
        pd.Timestamp(value)
    except (TypeError, ValueError):
        return False
    return value is not None


PARAM_CHECKS: dict[str, _Check] = {
    "n_skus": _Check(lambda v: is_whole(v, 1, 1_000_000), "a whole number in 1..1,000,000",
                     "use e.g. --skus 60"),
    "n_channels": _Check(lambda v: is_whole(v, 1, 50), "a whole number in 1..50",
                         "use e.g. --channels 3 (own_shop, marketplace, wholesale)"),
    "n_days": _Check(lambda v: is_whole(v, 28, 3660), "a whole number of days in 28..3660",
                     "use at least four weeks, e.g. --days 730"),
    "seed": _Check(lambda v: is_whole(v, 0, 2**63 - 1), "a whole number >= 0", "use e.g. --seed 7"),
    "start": _Check(_is_date, "a date such as '2023-01-01'", "give an ISO date"),
}


def check_params(**params: Any) -> None:
    """Check the generator parameters, raising ValueError that names the parameter and the fix."""
    for name, value in params.items():
        check = PARAM_CHECKS[name]
        if not check.test(value):
            raise ValueError(
                f"The '{name}' of the synthetic catalogue must be {check.expected}. Got {value!r}. "
                f"Fix: {check.fix}."
            )
