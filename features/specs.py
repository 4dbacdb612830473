"""Feature declarations for the global forecasting models.

Each spec is a small frozen dataclass that says *what* to compute; :class:`features.builder.FeatureBuilder`
computes all of them the same way for training and for prediction. Specs validate their own parameters
when created, so a bad declaration fails at once with a message naming the spec, the parameter, what was
expected and what was given.

Demand-derived specs (:class:`Lags`, :class:`RollingOnLag`, :class:`SameWeekday`, :class:`EWM`,
:class:`Intermittency`) only ever look at demand at least the row's information gap before the target
date (``min_lag``, or the row's horizon when the builder is horizon-aware); the builder enforces that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from features.checks import is_whole

CALENDAR_FIELDS: tuple[str, ...] = ("dayofweek", "day", "month", "weekofyear", "dayofyear", "year")
ROLLING_STATS: tuple[str, ...] = ("mean", "std")
STATIC_COLUMNS: tuple[str, ...] = ("sku", "channel", "category", "supplier")


def _fail(spec: str, param: str, expected: str, got: object, fix: str) -> None:
    raise ValueError(f"The '{param}' of {spec} must be {expected}. Got {got!r}. {fix}")


def _positive_ints(spec: str, param: str, values: Sequence[int]) -> tuple[int, ...]:
    items = tuple(values) if isinstance(values, Sequence) and not isinstance(values, str) else ()
    if not items or not all(is_whole(v, 1) for v in items):
        _fail(spec, param, "a non-empty tuple of whole numbers >= 1", values, "E.g. (28, 35, 42).")
    return tuple(sorted({int(v) for v in items}))


@dataclass(frozen=True)
class Lags:
    """Demand ``lag`` days before the target date (NaN when censored or before the series began).

    Args:
        lags: Days back. With a fixed gap each must be >= the builder's ``min_lag`` (checked by the
            builder); horizon-aware rows see a lag only when it is >= their horizon (NaN otherwise).
    """

    lags: tuple[int, ...] = (28, 35, 42, 49, 56, 364)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lags", _positive_ints("Lags", "lags", self.lags))


@dataclass(frozen=True)
class RollingOnLag:
    """Rolling statistics of demand over ``windows`` days ending ``lag`` days before the target date.

    Censored days are left out of the statistics (treated as missing, not as zero demand).

    Args:
        lag: Days between the end of the window and the target date (at least the row's gap); None
            means the row's gap (``min_lag``, or its horizon when horizon-aware).
        windows: Window lengths in days.
        stats: Any of ``"mean"`` and ``"std"``.
    """

    lag: int | None = None
    windows: tuple[int, ...] = (7, 28, 91, 364)
    stats: tuple[str, ...] = ("mean", "std")

    def __post_init__(self) -> None:
        if self.lag is not None and not is_whole(self.lag, 1):
            _fail("RollingOnLag", "lag", "None or a whole number of days >= 1", self.lag, "E.g. 28.")
        object.__setattr__(self, "windows", _positive_ints("RollingOnLag", "windows", self.windows))
        stats = tuple(self.stats)
        if not stats or any(s not in ROLLING_STATS for s in stats):
            _fail("RollingOnLag", "stats", f"a non-empty subset of {ROLLING_STATS}", self.stats,
                  "Use e.g. ('mean', 'std').")
        object.__setattr__(self, "stats", stats)


@dataclass(frozen=True)
class SameWeekday:
    """Mean demand of the same day of the season over recent seasons, and its ratio to the overall mean.

    For weekly seasonality this is "what a Saturday usually sells" (``dow_mean_{k}w_lag{L}``) and how
    much above the series' own level that is (``dow_ratio_{k}w_lag{L}``): a global model learns the
    weekly shape per series from it instead of from the identity of the series.

    Args:
        lag: Minimum days back (None means the row's gap); rounded up to a whole season.
        weeks: Numbers of seasons to average.
        season_length: Days per season.
    """

    lag: int | None = None
    weeks: tuple[int, ...] = (4, 12)
    season_length: int = 7

    def __post_init__(self) -> None:
        if self.lag is not None and not is_whole(self.lag, 1):
            _fail("SameWeekday", "lag", "None or a whole number of days >= 1", self.lag, "E.g. 28.")
        object.__setattr__(self, "weeks", _positive_ints("SameWeekday", "weeks", self.weeks))
        if not is_whole(self.season_length, 2):
            _fail("SameWeekday", "season_length", "a whole number of days >= 2", self.season_length,
                  "E.g. 7.")


@dataclass(frozen=True)
class EWM:
    """Exponentially weighted mean of demand up to ``lag`` days before the target date.

    Args:
        lag: Days back (None means the row's gap: ``min_lag``, or its horizon when horizon-aware).
        alphas: Smoothing weights in (0, 1]; larger reacts faster.
    """

    lag: int | None = None
    alphas: tuple[float, ...] = (0.05, 0.2, 0.5)

    def __post_init__(self) -> None:
        if self.lag is not None and not is_whole(self.lag, 1):
            _fail("EWM", "lag", "None or a whole number of days >= 1", self.lag, "E.g. 28.")
        alphas = tuple(self.alphas)
        if not alphas or not all(isinstance(a, float | int) and 0 < a <= 1 for a in alphas):
            _fail("EWM", "alphas", "a non-empty tuple of numbers in (0, 1]", self.alphas, "E.g. (0.05, 0.2).")
        object.__setattr__(self, "alphas", tuple(float(a) for a in alphas))


@dataclass(frozen=True)
class Calendar:
    """Calendar fields of the target date (known for any future date).

    Args:
        fields: Any of ``dayofweek, day, month, weekofyear, dayofyear, year``.
    """

    fields: tuple[str, ...] = ("dayofweek", "day", "month", "weekofyear", "dayofyear")

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        if not fields or any(f not in CALENDAR_FIELDS for f in fields):
            _fail("Calendar", "fields", f"a non-empty subset of {CALENDAR_FIELDS}", self.fields,
                  "Remove the unknown names.")
        object.__setattr__(self, "fields", fields)


@dataclass(frozen=True)
class Events:
    """Distance to the next and from the last event, and which event it is (from the ``events`` table).

    Four features: ``event_next`` / ``event_last`` (categorical event name, learned at fit) and
    ``event_days_to`` / ``event_days_since`` (days, capped at ``max_days``). A tree model splits on the
    name and the distance together, which is per-event-type days-to/days-since without one column per
    type. Channel-specific events only count for their channel. Events are known ahead, so future dates
    get them too.

    Args:
        max_days: Cap of the distances (an event further away counts as "none").
    """

    max_days: int = 14

    def __post_init__(self) -> None:
        if not is_whole(self.max_days, 1, 366):
            _fail("Events", "max_days", "a whole number of days in 1..366", self.max_days, "E.g. 14.")


@dataclass(frozen=True)
class Price:
    """Price features when ``sales`` has a ``price`` column (skipped otherwise).

    Price is treated as a planned, known covariate: the value on the target date, carried forward past
    the last sales date. Features: ``price_rel`` (price / its mean over the previous ``reference_days``),
    ``price_discount`` (1 - price / its max over that window) and ``price_change`` (relative change
    versus 7 days earlier).

    Args:
        reference_days: Window of the reference price.
    """

    reference_days: int = 364

    def __post_init__(self) -> None:
        if not is_whole(self.reference_days, 7):
            _fail("Price", "reference_days", "a whole number of days >= 7", self.reference_days, "E.g. 364.")


@dataclass(frozen=True)
class Promotions:
    """Known-future promotion flag ``promo`` (and ``promo_uplift`` when the table has it).

    From the ``promotions`` table (spans ``start..end`` per sku and channel) when present, else from the
    ``promo`` column of ``sales`` (past dates only; future dates count as no promotion).
    """


@dataclass(frozen=True)
class Intermittency:
    """Intermittency of demand as known at the row's information gap before the target date.

    Features: ``days_since_sale`` (days from the last positive sale to the information date),
    ``zero_share_{w}`` (share of zero-demand days among observed days in each window) and
    ``series_age`` (days since the series' first row, on the target date).

    Args:
        windows: Windows of the zero share, in days.
    """

    windows: tuple[int, ...] = (28, 91)

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", _positive_ints("Intermittency", "windows", self.windows))


@dataclass(frozen=True)
class Restarts:
    """Where a series restarted after a long zero run (a stockout, a delisting, a relaunch), and since.

    A global model otherwise sees a restarted series through windows that still hold the zero run, and
    forecasts flat below the restarted level; local smoothers track it. Features, as known at the row's
    information date: ``restart_days_since`` (days since the first sale after the last run of at least
    ``min_run`` zero or censored days, NaN if none since the first sale), ``restart_run_length`` (that
    run's length), ``restart_level`` (mean demand since that first sale) and ``ewm_ratio_<a>`` (each
    shorter exponentially weighted mean of :class:`EWM` over the longest one: > 1 on a ramp-up, < 1 on
    a fade; also what carried the M5 uncertainty winners, with their 3..100-day EWMs).

    Args:
        min_run: Days of zero (or censored) demand that make a run worth marking.
    """

    min_run: int = 14

    def __post_init__(self) -> None:
        if not is_whole(self.min_run, 2):
            _fail("Restarts", "min_run", "a whole number of days >= 2", self.min_run, "E.g. 14.")


@dataclass(frozen=True)
class Static:
    """Series identity and master data as pandas categoricals with categories fixed at fit.

    Columns are named ``static_<column>`` (the key columns ``sku``/``channel`` stay plain strings).

    Values unseen at fit (new SKUs) become missing, which LightGBM routes like any missing value.
    ``category`` and ``supplier`` come from the ``skus`` table and are skipped when it lacks them.

    Args:
        columns: Any of ``sku, channel, category, supplier``.
    """

    columns: tuple[str, ...] = STATIC_COLUMNS

    def __post_init__(self) -> None:
        columns = tuple(self.columns)
        if not columns or any(c not in STATIC_COLUMNS for c in columns):
            _fail("Static", "columns", f"a non-empty subset of {STATIC_COLUMNS}", self.columns,
                  "Remove the unknown names.")
        object.__setattr__(self, "columns", columns)


FeatureSpec = (
    Lags | RollingOnLag | SameWeekday | EWM | Calendar | Events | Price | Promotions | Intermittency
    | Restarts | Static
)


def default_specs(min_lag: int = 28, horizon_aware: bool = False) -> tuple[FeatureSpec, ...]:
    """The feature set the global LightGBM model uses unless told otherwise.

    Args:
        min_lag: The builder's minimum lag; with a fixed gap the lags start there and step by a week.
        horizon_aware: Whether rows carry their own gap: then the lags are whole weeks (same weekday as
            the target) and each row sees those at or beyond its gap.
    """
    if horizon_aware:
        lags: tuple[int, ...] = (7, 14, 21, 28, 35, 364)
    else:
        lags = tuple(sorted({min_lag, min_lag + 7, min_lag + 14, min_lag + 21, max(min_lag, 364)}))
    return (
        Lags(lags=lags),
        RollingOnLag(),
        SameWeekday(),
        EWM(),
        Calendar(),
        Events(),
        Price(),
        Promotions(),
        Intermittency(),
        Restarts(),
        Static(),
    )
