"""The one feature builder used for both training and prediction of the global models.

Strategy: *direct forecasting* (no recursion: predictions are never fed back as inputs, so errors do
not compound, and training rows and forecast rows are built by the same code). Two modes:

* fixed gap (``horizon_aware=False``): every demand-derived feature of a target date ``t`` uses only
  demand observed on or before ``t - min_lag``; with ``min_lag`` equal to the longest horizon one model
  predicts every day of the horizon. Simple, but day 1 of the forecast ignores the last 27 days.
* horizon-aware (``horizon_aware=True``, what the LightGBM model uses): each row has its own gap
  ``h`` in ``1..min_lag`` (its horizon, also a feature): demand features use data up to ``t - h`` and
  fixed lags shorter than ``h`` are missing. Training rows get random gaps; forecast rows get their true
  horizon from the origin. Day 1 then sees yesterday's demand. On m5-tiny (28-day holdout) a 7-day
  gap beat the 28-day gap by 11% WSPL on the first week, and horizon-aware rows took the LightGBM
  model's 28-day WSPL from 0.314 to 0.305.

Covariates known ahead (calendar, events, promotions, planned prices) are read on the target date.

Censored (stockout) days are missing, not zero: they drop out of lags, rolling statistics, EWMs and
zero shares, and their target is NaN so training skips them.

Everything is computed on a dense ``(n_series, n_days)`` matrix with cumulative sums and numpy indexing,
vectorised over series (the only Python loops run over days or channels), and then read out at the
requested ``(series, date)`` cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import pandas as pd

from features._builder_cells import Cells
from features.dataset import Dataset
from features.panel import Panel, sales_cells
from features.schema import SERIES_KEY
from features.specs import (
    EWM,
    Calendar,
    Events,
    FeatureSpec,
    Intermittency,
    Lags,
    Price,
    Promotions,
    Restarts,
    RollingOnLag,
    SameWeekday,
    Static,
    default_specs,
)

_SPEC_TYPES = (
    Lags, RollingOnLag, SameWeekday, EWM, Calendar, Events, Price, Promotions, Intermittency, Restarts,
    Static,
)


def demand_matrix(data: Dataset, last_date: pd.Timestamp | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The sales as a dense ``(n_series, n_days)`` matrix from ``data.start_date`` to ``last_date``.

    Censored (stockout) days, days before a series' first row and days after the last sales date are
    NaN: they are not demand observations. Rows follow ``data.series()`` order. Built on
    ``data.panel()``: up to ``data.end_date`` the matrix is the panel's read-only array, not a copy.

    Args:
        data: The canonical tables.
        last_date: Last column's date; defaults to ``data.end_date`` (may be later, for future dates).

    Returns:
        ``(keys, values)``: a copy of the series keys and the float64 matrix.
    """
    panel = data.panel()
    return panel.keys.copy(), _through(panel, last_date)


def _through(panel: Panel, last_date: pd.Timestamp | None) -> np.ndarray:
    """The panel's units, with NaN columns appended up to ``last_date`` if it lies past the panel."""
    extra = 0 if last_date is None else int((pd.Timestamp(last_date) - panel.dates[-1]).days)
    if extra <= 0:
        return panel.units
    values = np.full((panel.n_series, panel.n_days + extra), np.nan)
    values[:, :panel.n_days] = panel.units
    return values


def _static_levels(specs: Sequence[FeatureSpec], data: Dataset) -> dict[str, list[str]]:
    """Categorical levels of the static columns the specs ask for and the data has."""
    wanted = [c for spec in specs if isinstance(spec, Static) for c in spec.columns]
    levels: dict[str, list[str]] = {}
    for column in wanted:
        if column in SERIES_KEY:
            source = data.sales[column]
        elif data.skus is not None and column in data.skus and data.skus[column].notna().any():
            source = data.skus[column].dropna()
        else:
            continue
        levels[column] = sorted(source.astype(str).unique().tolist())
    return levels


class FeatureBuilder:
    """Builds the feature frame of any ``(series, date)`` cells from a :class:`Dataset`.

    ``fit`` only learns vocabularies (categorical levels, event names) and which optional inputs exist,
    never statistics of demand, so fitting on the training data cannot leak into later rows.

    Args:
        specs: Feature declarations (see :mod:`features.specs`); defaults to :func:`default_specs`.
        min_lag: Days between the target date and the newest demand a feature may see; set it to the
            longest horizon the model will forecast. Horizon-aware: the largest gap of a row.
        horizon_aware: Give each row its own gap (its horizon) and a ``horizon`` feature, instead of
            ``min_lag`` for all rows (see the module docstring).

    Raises:
        ValueError: If a spec is not a feature spec, or (fixed gap) a demand feature would look closer
            than ``min_lag`` days.
    """

    def __init__(self, specs: Sequence[FeatureSpec] | None = None, min_lag: int = 28,
                 horizon_aware: bool = False) -> None:
        if isinstance(min_lag, bool) or not isinstance(min_lag, int | np.integer) or min_lag < 1:
            raise ValueError(f"The 'min_lag' of FeatureBuilder must be a whole number of days >= 1. "
                             f"Got {min_lag!r}. Use the longest forecast horizon, e.g. 28.")
        self.min_lag = int(min_lag)
        self.horizon_aware = bool(horizon_aware)
        defaults = default_specs(self.min_lag, horizon_aware=self.horizon_aware)
        self.specs: tuple[FeatureSpec, ...] = tuple(defaults if specs is None else specs)
        for spec in self.specs:
            if not isinstance(spec, _SPEC_TYPES):
                raise ValueError(f"The 'specs' of FeatureBuilder must be feature specs from features.specs "
                                 f"(Lags, RollingOnLag, ...). Got {spec!r}.")
            # Horizon-aware rows mask the lags shorter than their own gap instead.
            lags = [] if self.horizon_aware else self._lags_of(spec)
            too_close = [lag for lag in lags if lag < self.min_lag]
            if too_close:
                raise ValueError(
                    f"{type(spec).__name__} looks {too_close[0]} days back, closer than min_lag="
                    f"{self.min_lag}: at forecast time that demand is not known yet (a leak). "
                    f"Use lags >= {self.min_lag} or lower min_lag."
                )

    @staticmethod
    def _lags_of(spec: FeatureSpec) -> tuple[int, ...]:
        if isinstance(spec, Lags):
            return spec.lags
        if isinstance(spec, RollingOnLag | SameWeekday | EWM) and spec.lag is not None:
            return (spec.lag,)
        return ()

    def _ewm_alphas(self) -> list[float]:
        """The alphas of the row-gap EWMs (no fixed lag), smallest (longest memory) first."""
        return sorted({a for s in self.specs if isinstance(s, EWM) and s.lag is None for a in s.alphas})

    def _ewm_ratio_alphas(self) -> list[float]:
        """The shorter EWM alphas that get a ratio to the longest one (needs the EWM spec before)."""
        return self._ewm_alphas()[1:]

    def _suffix(self, spec: RollingOnLag | SameWeekday | EWM) -> str:
        """Name part saying how far back a spec looks: a fixed lag, or each row's origin."""
        if spec.lag is not None:
            return f"lag{spec.lag}"
        return "origin" if self.horizon_aware else f"lag{self.min_lag}"

    def fit(self, data: Dataset) -> Self:
        """Learn categorical levels, event names and which optional inputs the data has.

        Returns:
            self, with ``feature_names_`` and ``categorical_features_`` set.
        """
        self.levels_ = _static_levels(self.specs, data)
        events = data.events
        self.event_names_: list[str] = (
            sorted(events["event"].astype(str).unique().tolist()) if events is not None else []
        )
        self.has_price_ = "price" in data.sales
        promos = data.promotions
        self.has_promo_ = promos is not None or "promo" in data.sales
        self.has_uplift_ = promos is not None and "expected_uplift" in promos
        names: list[str] = []
        for spec in self.specs:
            names.extend(self._names(spec))
        self.feature_names_ = [*names, "horizon"] if self.horizon_aware else names
        categorical = {*(f"static_{c}" for c in self.levels_), "event_next", "event_last"}
        self.categorical_features_ = [n for n in names if n in categorical]
        return self

    def _names(self, spec: FeatureSpec) -> list[str]:
        if isinstance(spec, Lags):
            return [f"lag_{lag}" for lag in spec.lags]
        if isinstance(spec, RollingOnLag):
            lag = self._suffix(spec)
            return [f"roll_{stat}_{w}_{lag}" for w in spec.windows for stat in spec.stats]
        if isinstance(spec, SameWeekday):
            lag = self._suffix(spec)
            return [f"dow_{kind}_{k}w_{lag}" for k in spec.weeks for kind in ("mean", "ratio")]
        if isinstance(spec, EWM):
            lag = self._suffix(spec)
            return [f"ewm_{a:g}_{lag}" for a in spec.alphas]
        if isinstance(spec, Calendar):
            return [f"cal_{f}" for f in spec.fields]
        if isinstance(spec, Events):
            names = ["event_next", "event_days_to", "event_last", "event_days_since"]
            return names if self.event_names_ else []
        if isinstance(spec, Price):
            return ["price_rel", "price_discount", "price_change"] if self.has_price_ else []
        if isinstance(spec, Promotions):
            return (["promo"] + (["promo_uplift"] if self.has_uplift_ else [])) if self.has_promo_ else []
        if isinstance(spec, Intermittency):
            return ["days_since_sale", *(f"zero_share_{w}" for w in spec.windows), "series_age"]
        if isinstance(spec, Restarts):
            return ["restart_days_since", "restart_run_length", "restart_level",
                    *(f"ewm_ratio_{a:g}" for a in self._ewm_ratio_alphas())]
        return [f"static_{c}" for c in spec.columns if c in self.levels_]

    def transform(
        self,
        data: Dataset,
        dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
        *,
        observed_only: bool = False,
        series: np.ndarray | None = None,
        origin: pd.Timestamp | None = None,
        max_rows: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> pd.DataFrame:
        """Features of every series of ``data`` on each of ``dates``.

        Args:
            data: The tables; demand after ``data.end_date`` is unknown (NaN target).
            dates: Target dates, on or after ``data.start_date``; may lie past ``data.end_date``.
            observed_only: Keep only cells whose demand was observed (not censored, inside the series'
                span): the training rows.
            series: Positions (in ``data.series()`` order) of the series to build; None means all.
            origin: Horizon-aware only: the forecast origin of every row (gap = date - origin, which
                must be in ``1..min_lag``). None: dates after ``data.end_date`` count from it, earlier
                dates (training rows) get a random gap drawn with ``rng``.
            max_rows: Keep at most this many cells, drawn uniformly at random with ``rng``.
            rng: Source of the subsample and of random gaps; required with ``max_rows`` and for
                horizon-aware rows on or before ``data.end_date`` without ``origin``.

        Returns:
            Frame with ``sku, channel, date, target`` (demand or NaN) and ``feature_names_`` columns,
            numeric features as float32, categoricals with the levels learned at fit.
        """
        if not hasattr(self, "feature_names_"):
            raise RuntimeError("This FeatureBuilder is not fitted yet. Call 'fit' with the training Dataset.")
        dates = pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize().unique().sort_values()
        if len(dates) == 0:
            raise ValueError("The 'dates' to build features for are empty. Give at least one date.")
        if dates[0] < data.start_date:
            raise ValueError(f"The 'dates' must be on or after the first sales date "
                             f"{data.start_date.date()}. Got {dates[0].date()}. Drop the earlier dates.")
        panel = data.panel()
        keys, y = panel.keys, _through(panel, dates[-1])
        _, codes, day = sales_cells(data.sales)  # where each sales row sits: for the price and promo grids
        cols = (dates - data.start_date).days.to_numpy()
        chosen = np.arange(len(keys)) if series is None else np.unique(np.asarray(series, dtype=int))
        rows = np.repeat(chosen, len(cols))
        cells = np.tile(cols, len(chosen))
        if observed_only:
            keep = ~np.isnan(y[rows, cells])
            rows, cells = rows[keep], cells[keep]
        if max_rows is not None and len(rows) > max_rows:
            if rng is None:
                raise ValueError("The 'rng' is required with 'max_rows' so the subsample is reproducible.")
            pick = np.sort(rng.choice(len(rows), size=max_rows, replace=False))
            rows, cells = rows[pick], cells[pick]
        frame = keys.iloc[rows].reset_index(drop=True)
        frame["date"] = data.start_date + pd.to_timedelta(cells, unit="D")
        frame["target"] = y[rows, cells]
        gap = self._gaps(data, cells, origin, rng)
        if len(chosen) < len(keys):
            # Only the chosen series' matrices: the prefix sums, price and promotion grids of the whole
            # panel cost seconds at 30,000 series, for the 600 series of LightGBM's path correlation.
            mine = np.isin(codes, chosen)
            index = (np.searchsorted(chosen, codes[mine]), day[mine], np.flatnonzero(mine))
            cells_of = Cells(self, data, keys.iloc[chosen].reset_index(drop=True), y[chosen],
                             np.searchsorted(chosen, rows), cells, index, gap)
        else:
            cells_of = Cells(self, data, keys, y, rows, cells, (codes, day, None), gap)
        features = cells_of.compute()
        for name in self.feature_names_:
            frame[name] = features[name]
        return frame

    def _gaps(self, data: Dataset, cells: np.ndarray, origin: pd.Timestamp | None,
              rng: np.random.Generator | None) -> np.ndarray:
        """Each row's information gap in days (see the module docstring)."""
        if not self.horizon_aware:
            return np.full(len(cells), self.min_lag)
        anchor = data.end_date if origin is None else pd.Timestamp(origin)
        gap = cells - int((anchor - data.start_date).days)
        if origin is not None and ((gap < 1) | (gap > self.min_lag)).any():
            raise ValueError(f"With origin {anchor.date()} every date must be 1..{self.min_lag} days "
                             f"after it. Got gaps {int(gap.min())}..{int(gap.max())}. "
                             "Pass dates inside that range.")
        past = gap < 1
        if past.any():
            if rng is None:
                raise ValueError("The 'rng' is required for horizon-aware rows on or before the last sales "
                                 "date (their gap is drawn at random), or pass 'origin'.")
            gap[past] = rng.integers(1, self.min_lag + 1, size=int(past.sum()))
        return gap
