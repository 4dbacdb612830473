"""The one feature builder used for both training and prediction of the global models.

Strategy: *direct forecasting with a minimum lag*. Every demand-derived feature of a target date ``t``
uses only demand observed on or before ``t - min_lag``; with ``min_lag`` equal to the longest horizon
(28 days by default) one model predicts every day of the horizon at once, without feeding predictions
back in (no recursion, so no compounding errors, and training rows and forecast rows are built by the
same code). The price of this is that day 1 of the forecast does not see the last 27 days; rolling and
exponentially weighted levels over long windows recover most of that. Covariates known ahead (calendar,
events, promotions, planned prices) are read on the target date itself.

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

from features.dataset import Dataset
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
    RollingOnLag,
    SameWeekday,
    Static,
    default_specs,
)

_SPEC_TYPES = (
    Lags, RollingOnLag, SameWeekday, EWM, Calendar, Events, Price, Promotions, Intermittency, Static,
)


def demand_matrix(data: Dataset, last_date: pd.Timestamp | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The sales as a dense ``(n_series, n_days)`` matrix from ``data.start_date`` to ``last_date``.

    Censored (stockout) days, days before a series' first row and days after the last sales date are
    NaN: they are not demand observations. Rows follow ``data.series()`` order.

    Args:
        data: The canonical tables.
        last_date: Last column's date; defaults to ``data.end_date`` (may be later, for future dates).

    Returns:
        ``(keys, values)``: the series keys and the float64 matrix.
    """
    keys, codes, day = _series_index(data)
    return keys, _fill_demand(data, (codes, day), len(keys), last_date)


def _fill_demand(data: Dataset, index: tuple[np.ndarray, np.ndarray], n_series: int,
                 last_date: pd.Timestamp | None) -> np.ndarray:
    end = data.end_date if last_date is None else max(pd.Timestamp(last_date), data.end_date)
    units = data.sales["units"].to_numpy(dtype=float).copy()
    if "censored" in data.sales:
        units[data.sales["censored"].to_numpy(dtype=bool)] = np.nan
    values = np.full((n_series, int((end - data.start_date).days) + 1), np.nan)
    values[index] = units
    return values


def _series_index(data: Dataset) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The series keys (as ``data.series()``), and the series row and day column of every sales row.

    ``Dataset.sales`` is sorted by sku, channel, date, so series are runs of rows: finding the run starts
    is a few vectorised comparisons, where hashing tens of millions of string pairs takes many seconds.
    Unsorted input falls back to the hash lookup.
    """
    sales = data.sales
    sku, channel = sales["sku"].to_numpy(), sales["channel"].to_numpy()
    day = (sales["date"] - data.start_date).dt.days.to_numpy()
    start = np.ones(len(sales), dtype=bool)
    start[1:] = (sku[1:] != sku[:-1]) | (channel[1:] != channel[:-1])
    ks, kc = sku[start], channel[start]
    increasing = (ks[1:] > ks[:-1]) | ((ks[1:] == ks[:-1]) & (kc[1:] > kc[:-1]))
    if increasing.all():
        return pd.DataFrame({"sku": ks, "channel": kc}), np.cumsum(start) - 1, day
    keys = data.series()
    index = pd.MultiIndex.from_frame(keys[list(SERIES_KEY)])
    codes = index.get_indexer(pd.MultiIndex.from_frame(sales[list(SERIES_KEY)]))
    return keys, codes, day


def _sales_matrix(data: Dataset, column: str, n_days: int, index: tuple[np.ndarray, np.ndarray],
                  n_series: int) -> np.ndarray:
    codes, day = index
    out = np.full((n_series, n_days), np.nan)
    out[codes, day] = data.sales[column].to_numpy(dtype=float)
    return out


def _ffill(matrix: np.ndarray) -> np.ndarray:
    """Carry the last non-NaN value forward along each row."""
    idx = np.where(np.isnan(matrix), 0, np.arange(matrix.shape[1])[None, :])
    np.maximum.accumulate(idx, axis=1, out=idx)
    return matrix[np.arange(matrix.shape[0])[:, None], idx]


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


class _Cells:
    """Computes every feature at the requested ``(rows, cells)`` of the dense day grid."""

    def __init__(self, builder: FeatureBuilder, data: Dataset, keys: pd.DataFrame, y: np.ndarray,
                 rows: np.ndarray, cells: np.ndarray, index: tuple[np.ndarray, np.ndarray]) -> None:
        self.b, self.data, self.keys, self.y, self.index = builder, data, keys, y, index
        self.rows, self.cells = rows, cells
        self.n_days = y.shape[1]
        self._cum: dict[str, np.ndarray] = {}

    def _cumsum(self, name: str) -> np.ndarray:
        # Prefix sums along days with a leading zero column: window sums become two lookups.
        if name not in self._cum:
            observed = ~np.isnan(self.y)
            base = {"sum": np.nan_to_num(self.y), "sq": np.nan_to_num(self.y) ** 2,
                    "n": observed.astype(np.int32), "zero": (self.y == 0).astype(np.int32)}[name]
            out = np.zeros((self.y.shape[0], self.n_days + 1), dtype=base.dtype)
            np.cumsum(base, axis=1, out=out[:, 1:])
            self._cum[name] = out
        return self._cum[name]

    def _window(self, name: str, end: np.ndarray, width: int) -> np.ndarray:
        """Sum of ``name`` over the ``width`` days ending at column ``end`` (inclusive)."""
        hi = np.clip(end + 1, 0, self.n_days)
        lo = np.clip(hi - width, 0, None)
        cum = self._cumsum(name)
        return (cum[self.rows, hi] - cum[self.rows, lo]).astype(float)

    def _at(self, matrix: np.ndarray, col: np.ndarray) -> np.ndarray:
        ok = (col >= 0) & (col < matrix.shape[1])
        out = np.full(len(col), np.nan)
        out[ok] = matrix[self.rows[ok], col[ok]]
        return out

    def compute(self) -> dict[str, np.ndarray | pd.Categorical]:
        out: dict[str, np.ndarray | pd.Categorical] = {}
        for spec in self.b.specs:
            if isinstance(spec, Lags):
                for lag in spec.lags:
                    out[f"lag_{lag}"] = self._at(self.y, self.cells - lag)
            elif isinstance(spec, RollingOnLag):
                out.update(self._rolling(spec))
            elif isinstance(spec, SameWeekday):
                out.update(self._same_weekday(spec))
            elif isinstance(spec, EWM):
                out.update(self._ewm(spec))
            elif isinstance(spec, Calendar):
                out.update(self._calendar(spec))
            elif isinstance(spec, Events) and self.b.event_names_:
                out.update(self._events(spec))
            elif isinstance(spec, Price) and self.b.has_price_:
                out.update(self._price(spec))
            elif isinstance(spec, Promotions) and self.b.has_promo_:
                out.update(self._promotions())
            elif isinstance(spec, Intermittency):
                out.update(self._intermittency(spec))
            elif isinstance(spec, Static):
                out.update(self._static(spec))
        return {k: v if isinstance(v, pd.Categorical) else np.asarray(v, dtype=np.float32)
                for k, v in out.items()}

    def _rolling(self, spec: RollingOnLag) -> dict[str, np.ndarray]:
        lag = self.b._lag(spec)
        end = self.cells - lag
        out = {}
        for w in spec.windows:
            n = self._window("n", end, w)
            total = self._window("sum", end, w)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(n > 0, total / n, np.nan)
                if "mean" in spec.stats:
                    out[f"roll_mean_{w}_lag{lag}"] = mean
                if "std" in spec.stats:
                    var = self._window("sq", end, w) / n - mean**2
                    out[f"roll_std_{w}_lag{lag}"] = np.where(n > 1, np.sqrt(np.clip(var, 0, None)), np.nan)
        return out

    def _same_weekday(self, spec: SameWeekday) -> dict[str, np.ndarray]:
        lag = self.b._lag(spec)
        s = spec.season_length
        base = -(-lag // s) * s  # the nearest whole number of seasons at or beyond the lag
        out = {}
        total, count = np.zeros(len(self.rows)), np.zeros(len(self.rows))
        for j in range(max(spec.weeks)):  # a loop over seasons, vectorised over cells
            value = self._at(self.y, self.cells - base - s * j)
            total += np.nan_to_num(value)
            count += ~np.isnan(value)
            k = j + 1
            if k in spec.weeks:
                end = self.cells - base
                n = self._window("n", end, s * k)
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean = np.where(count > 0, total / count, np.nan)
                    level = np.where(n > 0, self._window("sum", end, s * k) / n, np.nan)
                    out[f"dow_mean_{k}w_lag{lag}"] = mean
                    out[f"dow_ratio_{k}w_lag{lag}"] = np.where(level > 0, mean / level, np.nan)
        return out

    def _ewm(self, spec: EWM) -> dict[str, np.ndarray]:
        lag = self.b._lag(spec)
        last = max(0, min(self.n_days, int(self.cells.max()) - lag + 1))
        out = {}
        for alpha in spec.alphas:
            smooth = np.full((self.y.shape[0], last), np.nan)
            state = np.full(self.y.shape[0], np.nan)
            for t in range(last):  # recursion over days, vectorised over series
                obs = self.y[:, t]
                blended = np.where(np.isnan(state), obs, alpha * obs + (1 - alpha) * state)
                state = np.where(np.isnan(obs), state, blended)
                smooth[:, t] = state
            out[f"ewm_{alpha:g}_lag{lag}"] = self._at(smooth, self.cells - lag)
        return out

    def _calendar(self, spec: Calendar) -> dict[str, np.ndarray]:
        grid = pd.DatetimeIndex(self.data.start_date + pd.to_timedelta(np.arange(self.n_days), unit="D"))
        values = {"dayofweek": grid.dayofweek, "day": grid.day, "month": grid.month,
                  "weekofyear": grid.isocalendar().week.to_numpy(), "dayofyear": grid.dayofyear,
                  "year": grid.year}
        return {f"cal_{f}": np.asarray(values[f], dtype=float)[self.cells] for f in spec.fields}

    def _events(self, spec: Events) -> dict[str, np.ndarray | pd.Categorical]:
        events = self.data.events
        names = self.b.event_names_
        channels = self.keys["channel"].astype(str)
        channel_codes, channel_list = pd.factorize(channels)
        grid = np.arange(self.n_days)
        shape = (len(channel_list), self.n_days)
        nxt_code, days_to = np.full(shape, -1), np.full(shape, float(spec.max_days + 1))
        last_code, days_since = np.full(shape, -1), np.full(shape, float(spec.max_days + 1))
        if events is not None and len(events):
            ev = events.assign(day=(pd.to_datetime(events["date"]) - self.data.start_date).dt.days,
                               code=pd.Categorical(events["event"].astype(str), categories=names).codes)
            ev_channel = (ev["channel"].astype("string").fillna("") if "channel" in ev
                          else pd.Series("", index=ev.index))
            for i, channel in enumerate(channel_list):  # a loop over channels, vectorised over days
                mine = ev[(ev_channel == "") | (ev_channel == channel)].sort_values(["day", "event"])
                mine = mine.drop_duplicates("day")
                if mine.empty:
                    continue
                days, codes = mine["day"].to_numpy(), mine["code"].to_numpy()
                j = np.searchsorted(days, grid, side="left")
                has_next = j < len(days)
                dist = np.where(has_next, days[np.minimum(j, len(days) - 1)] - grid, np.inf)
                near = dist <= spec.max_days
                nxt_code[i] = np.where(near, codes[np.minimum(j, len(days) - 1)], -1)
                days_to[i] = np.where(near, dist, spec.max_days + 1)
                k = j - 1
                dist = np.where(k >= 0, grid - days[np.maximum(k, 0)], np.inf)
                near = dist <= spec.max_days
                last_code[i] = np.where(near, codes[np.maximum(k, 0)], -1)
                days_since[i] = np.where(near, dist, spec.max_days + 1)
        ch = channel_codes[self.rows]
        return {
            "event_next": pd.Categorical.from_codes(nxt_code[ch, self.cells], categories=pd.Index(names)),
            "event_days_to": days_to[ch, self.cells],
            "event_last": pd.Categorical.from_codes(last_code[ch, self.cells], categories=pd.Index(names)),
            "event_days_since": days_since[ch, self.cells],
        }

    def _price(self, spec: Price) -> dict[str, np.ndarray]:
        if "price" not in self.data.sales:
            names = ("price_rel", "price_discount", "price_change")
            return {n: np.full(len(self.rows), np.nan) for n in names}
        price = _ffill(_sales_matrix(self.data, "price", self.n_days, self.index, len(self.keys)))
        w = spec.reference_days
        observed = ~np.isnan(price)
        cum = np.zeros((price.shape[0], self.n_days + 1))
        np.cumsum(np.nan_to_num(price), axis=1, out=cum[:, 1:])
        cnt = np.zeros((price.shape[0], self.n_days + 1))
        np.cumsum(observed, axis=1, out=cnt[:, 1:])
        hi = self.cells + 1
        lo = np.clip(hi - w, 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = (cum[self.rows, hi] - cum[self.rows, lo]) / (cnt[self.rows, hi] - cnt[self.rows, lo])
            peak = pd.DataFrame(price.T).rolling(w, min_periods=1).max().to_numpy().T
            now = price[self.rows, self.cells]
            before = self._at(price, self.cells - 7)
            return {"price_rel": now / mean, "price_discount": 1 - now / peak[self.rows, self.cells],
                    "price_change": now / before - 1}

    def _promotions(self) -> dict[str, np.ndarray]:
        n = self.y.shape[0]
        flag = np.zeros((n, self.n_days + 1))
        uplift = np.zeros((n, self.n_days + 1))
        promos = self.data.promotions
        if promos is not None and len(promos):
            index = pd.MultiIndex.from_frame(self.keys[list(SERIES_KEY)].astype(str))
            row = index.get_indexer(pd.MultiIndex.from_frame(promos[list(SERIES_KEY)].astype(str)))
            start = (pd.to_datetime(promos["start"]) - self.data.start_date).dt.days.to_numpy()
            end = (pd.to_datetime(promos["end"]) - self.data.start_date).dt.days.to_numpy()
            ok = (row >= 0) & (end >= 0) & (start < self.n_days) & (end >= start)
            r, a, b = row[ok], np.clip(start[ok], 0, None), np.clip(end[ok], None, self.n_days - 1) + 1
            # Difference arrays: +1 at the start, -1 after the end, then a running sum marks the spans.
            np.add.at(flag, (r, a), 1.0)
            np.add.at(flag, (r, b), -1.0)
            if "expected_uplift" in promos:
                up = promos["expected_uplift"].to_numpy(dtype=float)[ok]
                np.add.at(uplift, (r, a), np.nan_to_num(up))
                np.add.at(uplift, (r, b), -np.nan_to_num(up))
        active = np.cumsum(flag, axis=1)[:, : self.n_days] > 0.5
        if "promo" in self.data.sales:
            promo = _sales_matrix(self.data, "promo", self.n_days, self.index, len(self.keys))
            active |= np.nan_to_num(promo) > 0
        out = {"promo": active[self.rows, self.cells].astype(float)}
        if self.b.has_uplift_:
            out["promo_uplift"] = np.cumsum(uplift, axis=1)[self.rows, self.cells]
        return out

    def _intermittency(self, spec: Intermittency) -> dict[str, np.ndarray]:
        end = self.cells - self.b.min_lag
        last_sale = np.where(self.y > 0, np.arange(self.n_days)[None, :], -1)
        np.maximum.accumulate(last_sale, axis=1, out=last_sale)
        seen = self._at(last_sale.astype(float), end)
        out = {"days_since_sale": np.where(seen >= 0, end - seen, np.nan)}
        for w in spec.windows:
            n = self._window("n", end, w)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[f"zero_share_{w}"] = np.where(n > 0, self._window("zero", end, w) / n, np.nan)
        codes, day = self.index
        first = np.full(len(self.keys), self.n_days)
        np.minimum.at(first, codes, day)
        out["series_age"] = (self.cells - first[self.rows]).astype(float)
        return out

    def _static(self, spec: Static) -> dict[str, pd.Categorical]:
        out = {}
        skus = self.data.skus
        for column in spec.columns:
            if column not in self.b.levels_:
                continue
            if column in SERIES_KEY:
                values = self.keys[column].astype(str).to_numpy()
            elif skus is not None and column in skus:
                lookup = skus.drop_duplicates("sku").set_index("sku")[column].astype("string")
                values = self.keys["sku"].map(lookup).to_numpy()
            else:
                values = np.full(len(self.keys), None)
            out[f"static_{column}"] = pd.Categorical(values[self.rows], categories=self.b.levels_[column])
        return out


class FeatureBuilder:
    """Builds the feature frame of any ``(series, date)`` cells from a :class:`Dataset`.

    ``fit`` only learns vocabularies (categorical levels, event names) and which optional inputs exist,
    never statistics of demand, so fitting on the training data cannot leak into later rows.

    Args:
        specs: Feature declarations (see :mod:`features.specs`); defaults to :func:`default_specs`.
        min_lag: Days between the target date and the newest demand a feature may see; set it to the
            longest horizon the model will forecast.

    Raises:
        ValueError: If a spec is not a feature spec, or a demand feature would look closer than
            ``min_lag`` days.
    """

    def __init__(self, specs: Sequence[FeatureSpec] | None = None, min_lag: int = 28) -> None:
        if isinstance(min_lag, bool) or not isinstance(min_lag, int | np.integer) or min_lag < 1:
            raise ValueError(f"The 'min_lag' of FeatureBuilder must be a whole number of days >= 1. "
                             f"Got {min_lag!r}. Use the longest forecast horizon, e.g. 28.")
        self.min_lag = int(min_lag)
        self.specs: tuple[FeatureSpec, ...] = tuple(default_specs(self.min_lag) if specs is None else specs)
        for spec in self.specs:
            if not isinstance(spec, _SPEC_TYPES):
                raise ValueError(f"The 'specs' of FeatureBuilder must be feature specs from features.specs "
                                 f"(Lags, RollingOnLag, ...). Got {spec!r}.")
            too_close = [lag for lag in self._lags_of(spec) if lag < self.min_lag]
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

    def _lag(self, spec: RollingOnLag | SameWeekday | EWM) -> int:
        return self.min_lag if spec.lag is None else spec.lag

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
        self.feature_names_ = names
        categorical = {*(f"static_{c}" for c in self.levels_), "event_next", "event_last"}
        self.categorical_features_ = [n for n in names if n in categorical]
        return self

    def _names(self, spec: FeatureSpec) -> list[str]:
        if isinstance(spec, Lags):
            return [f"lag_{lag}" for lag in spec.lags]
        if isinstance(spec, RollingOnLag):
            lag = self._lag(spec)
            return [f"roll_{stat}_{w}_lag{lag}" for w in spec.windows for stat in spec.stats]
        if isinstance(spec, SameWeekday):
            lag = self._lag(spec)
            return [f"dow_{kind}_{k}w_lag{lag}" for k in spec.weeks for kind in ("mean", "ratio")]
        if isinstance(spec, EWM):
            lag = self._lag(spec)
            return [f"ewm_{a:g}_lag{lag}" for a in spec.alphas]
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
        return [f"static_{c}" for c in spec.columns if c in self.levels_]

    def transform(
        self,
        data: Dataset,
        dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
        *,
        observed_only: bool = False,
        series: np.ndarray | None = None,
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
            max_rows: Keep at most this many cells, drawn uniformly at random with ``rng``.
            rng: Source of the subsample; required with ``max_rows``.

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
        keys, codes, day = _series_index(data)
        y = _fill_demand(data, (codes, day), len(keys), dates[-1])
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
        features = _Cells(self, data, keys, y, rows, cells, (codes, day)).compute()
        for name in self.feature_names_:
            frame[name] = features[name]
        return frame


