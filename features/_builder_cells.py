"""The feature arithmetic of :class:`features.builder.FeatureBuilder`, split out to keep files small.

:class:`_Cells` evaluates every spec at the requested ``(series row, day column)`` cells of the dense
demand matrix. Each cell carries its own information gap (days between its target date and the newest
demand it may see): one fixed ``min_lag`` for all, or its horizon when the builder is horizon-aware.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.schema import SERIES_KEY
from features.specs import (
    EWM,
    Calendar,
    Events,
    Intermittency,
    Lags,
    Price,
    Promotions,
    Restarts,
    RollingOnLag,
    SameWeekday,
    Static,
)

# Where the sales rows sit on the demand grid: panel row and day column of each sales row used, and the
# positions of those rows in ``Dataset.sales`` (None: every row, in order).
SalesIndex = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class FittedBuilder(Protocol):
    """What :class:`Cells` reads of a fitted :class:`features.builder.FeatureBuilder` (a protocol, so
    this module does not import the builder that imports it)."""

    @property
    def specs(self) -> Sequence[object]: ...

    @property
    def horizon_aware(self) -> bool: ...

    @property
    def levels_(self) -> dict[str, list[str]]: ...

    @property
    def event_names_(self) -> list[str]: ...

    @property
    def has_price_(self) -> bool: ...

    @property
    def has_promo_(self) -> bool: ...

    @property
    def has_uplift_(self) -> bool: ...


    def _suffix(self, spec: RollingOnLag | SameWeekday | EWM) -> str: ...

    def _ewm_alphas(self) -> list[float]: ...

    def _ewm_ratio_alphas(self) -> list[float]: ...


def sales_matrix(data: Dataset, column: str, n_days: int, index: SalesIndex, n_series: int) -> np.ndarray:
    """A column of ``sales`` as a dense ``(n_series, n_days)`` matrix (NaN where there is no row)."""
    codes, day, sales_rows = index
    values = data.sales[column].to_numpy(dtype=float)
    out = np.full((n_series, n_days), np.nan)
    out[codes, day] = values if sales_rows is None else values[sales_rows]
    return out


def window_max(matrix: np.ndarray, rows: np.ndarray, cells: np.ndarray, width: int) -> np.ndarray:
    """Per ``(row, cell)``, the max of ``matrix[row]`` over the ``width`` columns ending at ``cell``.

    NaN is ignored (NaN when the whole window is), as ``rolling(width, min_periods=1).max()``. Only the
    asked-for cells are read, one column window per distinct cell: a forecast asks for one cell per
    series, and a rolling max over every day of 30,000 series cost a second and a half per transform.
    """
    # Each distinct (cell, row) once (a forecast's horizons share their origin's cell), sorted by cell.
    pairs, back = np.unique(np.asarray(cells, dtype=np.int64) * matrix.shape[0] + rows, return_inverse=True)
    pair_cell, pair_row = np.divmod(pairs, matrix.shape[0])
    distinct, first = np.unique(pair_cell, return_index=True)
    bounds = np.append(first, len(pairs))
    peak = np.full(len(pairs), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is NaN
        for k, cell in enumerate(distinct):
            at = slice(bounds[k], bounds[k + 1])
            peak[at] = np.nanmax(matrix[pair_row[at], max(0, int(cell) - width + 1) : int(cell) + 1], axis=1)
    return peak[back.reshape(-1)]


def ffill(matrix: np.ndarray) -> np.ndarray:
    """Carry the last non-NaN value forward along each row."""
    idx = np.where(np.isnan(matrix), 0, np.arange(matrix.shape[1])[None, :])
    np.maximum.accumulate(idx, axis=1, out=idx)
    return matrix[np.arange(matrix.shape[0])[:, None], idx]



class Cells:
    """Computes every feature at the requested ``(rows, cells)`` of the dense day grid."""

    def __init__(self, builder: FittedBuilder, data: Dataset, keys: pd.DataFrame, y: np.ndarray,
                 rows: np.ndarray, cells: np.ndarray, index: SalesIndex, gap: np.ndarray) -> None:
        self.b, self.data, self.keys, self.y, self.index = builder, data, keys, y, index
        self.rows, self.cells, self.gap = rows, cells, gap
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
                    # A lag shorter than the row's information gap is not known at its origin.
                    out[f"lag_{lag}"] = np.where(lag >= self.gap, self._at(self.y, self.cells - lag), np.nan)
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
            elif isinstance(spec, Restarts):
                continue  # after the loop: its ratios read the EWMs wherever they are declared
            elif isinstance(spec, Static):
                out.update(self._static(spec))
        for spec in self.b.specs:
            if isinstance(spec, Restarts):
                out.update(self._restarts(spec, out))
        if self.b.horizon_aware:
            out["horizon"] = self.gap.astype(float)
        return {k: v if isinstance(v, pd.Categorical) else np.asarray(v, dtype=np.float32)
                for k, v in out.items()}

    def _lag(self, spec: RollingOnLag | SameWeekday | EWM) -> np.ndarray:
        """Days between each row's target and the newest demand the spec may see."""
        return self.gap if spec.lag is None else np.maximum(self.gap, spec.lag)

    def _rolling(self, spec: RollingOnLag) -> dict[str, np.ndarray]:
        lag = self.b._suffix(spec)
        end = self.cells - self._lag(spec)
        out = {}
        for w in spec.windows:
            n = self._window("n", end, w)
            total = self._window("sum", end, w)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(n > 0, total / n, np.nan)
                if "mean" in spec.stats:
                    out[f"roll_mean_{w}_{lag}"] = mean
                if "std" in spec.stats:
                    var = self._window("sq", end, w) / n - mean**2
                    out[f"roll_std_{w}_{lag}"] = np.where(n > 1, np.sqrt(np.clip(var, 0, None)), np.nan)
        return out

    def _same_weekday(self, spec: SameWeekday) -> dict[str, np.ndarray]:
        lag = self.b._suffix(spec)
        s = spec.season_length
        base = -(-self._lag(spec) // s) * s  # the nearest whole number of seasons at or beyond the lag
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
                    out[f"dow_mean_{k}w_{lag}"] = mean
                    out[f"dow_ratio_{k}w_{lag}"] = np.where(level > 0, mean / level, np.nan)
        return out

    def _ewm(self, spec: EWM) -> dict[str, np.ndarray]:
        lag = self.b._suffix(spec)
        end = self.cells - self._lag(spec)
        last = max(0, min(self.n_days, int(end.max()) + 1))
        out = {}
        for alpha in spec.alphas:
            smooth = np.full((self.y.shape[0], last), np.nan)
            state = np.full(self.y.shape[0], np.nan)
            for t in range(last):  # recursion over days, vectorised over series
                obs = self.y[:, t]
                blended = np.where(np.isnan(state), obs, alpha * obs + (1 - alpha) * state)
                state = np.where(np.isnan(obs), state, blended)
                smooth[:, t] = state
            out[f"ewm_{alpha:g}_{lag}"] = self._at(smooth, end)
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
        price = ffill(sales_matrix(self.data, "price", self.n_days, self.index, len(self.keys)))
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
            now = price[self.rows, self.cells]
            before = self._at(price, self.cells - 7)
            peak = window_max(price, self.rows, self.cells, w)
            return {"price_rel": now / mean, "price_discount": 1 - now / peak,
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
            promo = sales_matrix(self.data, "promo", self.n_days, self.index, len(self.keys))
            active |= np.nan_to_num(promo) > 0
        out = {"promo": active[self.rows, self.cells].astype(float)}
        if self.b.has_uplift_:
            out["promo_uplift"] = np.cumsum(uplift, axis=1)[self.rows, self.cells]
        return out

    def _intermittency(self, spec: Intermittency) -> dict[str, np.ndarray]:
        end = self.cells - self.gap
        last_sale = np.where(self.y > 0, np.arange(self.n_days)[None, :], -1)
        np.maximum.accumulate(last_sale, axis=1, out=last_sale)
        seen = self._at(last_sale.astype(float), end)
        out = {"days_since_sale": np.where(seen >= 0, end - seen, np.nan)}
        for w in spec.windows:
            n = self._window("n", end, w)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[f"zero_share_{w}"] = np.where(n > 0, self._window("zero", end, w) / n, np.nan)
        codes, day, _ = self.index
        first = np.full(len(self.keys), self.n_days)
        np.minimum.at(first, codes, day)
        out["series_age"] = (self.cells - first[self.rows]).astype(float)
        return out

    def _restarts(self, spec: Restarts, done: dict[str, np.ndarray | pd.Categorical]
                  ) -> dict[str, np.ndarray]:
        end = self.cells - self.gap
        last = max(0, min(self.n_days, int(end.max()) + 1))
        n = self.y.shape[0]
        restart_day = np.full((n, last), -1, dtype=np.int32)
        run_length = np.full((n, last), np.nan, dtype=np.float32)
        started = np.zeros(n, dtype=bool)
        current = np.zeros(n)
        day_of = np.full(n, -1, dtype=np.int32)
        length_of = np.full(n, np.nan, dtype=np.float32)
        for t in range(last):  # a loop over days, vectorised over series
            sold = np.nan_to_num(self.y[:, t]) > 0
            restart = sold & started & (current >= spec.min_run)
            day_of[restart] = t
            length_of[restart] = current[restart]
            # Zero and censored days extend the run once the series has sold; a sale ends it.
            current = np.where(sold, 0.0, current + started)
            started |= sold
            restart_day[:, t] = day_of
            run_length[:, t] = length_of
        since = self._at(restart_day.astype(float), end)
        since = np.where(since >= 0, since, np.nan)
        first = np.where(np.isnan(since), end, since).astype(int)
        n_obs = self._range("n", first, end)
        total = self._range("sum", first, end)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(~np.isnan(since) & (n_obs > 0), total / n_obs, np.nan)
        out = {
            "restart_days_since": end - since,
            "restart_run_length": self._at(run_length.astype(float), end),
            "restart_level": level,
        }
        alphas = self.b._ewm_ratio_alphas()
        if alphas:
            suffix = self.b._suffix(EWM())
            # The smallest alpha is the longest memory: the reference of every ratio.
            longest = np.asarray(done[f"ewm_{self.b._ewm_alphas()[0]:g}_{suffix}"], dtype=float)
            for a in alphas:
                with np.errstate(divide="ignore", invalid="ignore"):
                    short = np.asarray(done[f"ewm_{a:g}_{suffix}"], dtype=float)
                    out[f"ewm_ratio_{a:g}"] = np.where(longest > 0, short / longest, np.nan)
        return out

    def _range(self, name: str, first: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Sum of ``name`` over columns ``first..end`` (inclusive) of each row's series."""
        cum = self._cumsum(name)
        hi = np.clip(end + 1, 0, self.n_days)
        lo = np.clip(first, 0, None)
        return np.where(hi > lo, cum[self.rows, hi] - cum[self.rows, np.minimum(lo, hi)], 0).astype(float)

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
