"""Baseline forecasters: the yardsticks every other model has to beat.

:class:`SeasonalNaive` is the M5 "seasonal naive" benchmark (each future day repeats the same weekday of
the last observed week) with a distribution around it built from the series' own recent seasonal
differences, so that it can be scored on quantile losses and used for lead-time totals.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pandas as pd

from features.checks import whole
from features.dataset import Dataset
from features.schema import quantile_column
from models.base import Forecaster, ParamCheck, SamplePaths

# Values per block of drawn paths (bounds the float64 temporaries of a draw).
_PATH_VALUES_PER_BLOCK = 4_000_000

__all__ = ["SeasonalNaive"]


class SeasonalNaive(Forecaster):
    """Seasonal naive forecast with an empirical distribution of its own errors.

    Point forecast: the value of the same day of the season in the last observed season (the M5
    benchmark). A censored or missing value there falls back to the most recent observed value of the
    same weekday within ``window_seasons`` seasons, then to the series' recent mean, then to zero.

    Distribution: the seasonal differences ``y[t] - y[t - season_length]`` of the last
    ``window_seasons`` seasons are the errors this method would have made one season ahead; the
    forecast quantiles are the point plus their empirical quantiles (clipped at zero). Using the
    one-season errors for every horizon assumes roughly stationary demand, which is the point of a
    baseline. Sample paths add whole seasons (weeks) of these residuals, drawn at random per future
    season, so the correlation between days within a week is kept for lead-time totals.

    Args:
        season_length: Days per season (7 for weekly seasonality).
        window_seasons: How many recent seasons feed the fallback and the error distribution.
    """

    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "season_length": whole(1, "a whole number of days >= 1"),
        "window_seasons": whole(1, "a whole number of seasons >= 1"),
    }

    def __init__(self, *, season_length: int = 7, window_seasons: int = 8) -> None:
        self.season_length = season_length
        self.window_seasons = window_seasons

    def _fit(self, data: Dataset) -> None:
        panel = data.panel()
        keys, y = panel.keys.copy(), panel.units
        s, k = self.season_length, self.window_seasons
        window = s * k
        # Pad on the left so every series has the full window; padding is "not observed".
        pad = max(0, window + s - y.shape[1])
        if pad:
            y = np.concatenate([np.full((y.shape[0], pad), np.nan), y], axis=1)
        recent = y[:, -window:]
        point = y[:, -s:].copy()
        for back in range(2, k + 1):  # loop over seasons, vectorised over series
            older = y[:, -back * s : y.shape[1] - (back - 1) * s]
            point = np.where(np.isnan(point), older, point)
        # Series with no observed day in the window (or at all) are expected: they get level 0 below.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            level = np.nanmean(recent, axis=1)
            level = np.where(np.isnan(level), np.nanmean(y, axis=1), level)
        level = np.nan_to_num(level, nan=0.0)
        point = np.where(np.isnan(point), level[:, None], point)

        resid = y[:, -window:] - y[:, -window - s : -s]
        # Series too short for any seasonal difference: spread of their observed values around the level.
        no_resid = np.isnan(resid).all(axis=1)
        if no_resid.any():
            resid[no_resid] = recent[no_resid] - level[no_resid, None]
        self.keys_ = keys
        self.origin_ = data.end_date
        self.point_ = point
        self.residuals_ = resid

    def _forecast_point(self, horizon: int) -> np.ndarray:
        reps = -(-horizon // self.season_length)
        return np.tile(self.point_, (1, reps))[:, :horizon]

    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        point = self._forecast_point(horizon)
        n = point.shape[0]
        resid = self.residuals_
        all_nan = np.isnan(resid).all(axis=1)
        with np.errstate(all="ignore"):
            rq = np.nanquantile(np.where(all_nan[:, None], 0.0, resid), quantiles, axis=1).T  # (n, n_q)
        frame = self.keys_.loc[np.repeat(np.arange(n), horizon)].reset_index(drop=True)
        dates = pd.date_range(self.origin_ + pd.Timedelta(days=1), periods=horizon, freq="D")
        frame["date"] = np.tile(dates.to_numpy(), n)
        flat_point = point.reshape(-1)
        frame["mean"] = flat_point
        for j, q in enumerate(quantiles):
            frame[quantile_column(q)] = flat_point + np.repeat(rq[:, j], horizon)
        frame["model"] = "seasonal_naive"
        return frame

    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        s = self.season_length
        point = self._forecast_point(horizon)[rows]
        n = len(rows)
        n_blocks = -(-horizon // s)
        pick = rng.integers(0, self.window_seasons, size=(n, n_paths, n_blocks))
        values = np.empty((n, n_paths, horizon), dtype=np.float32)
        # In blocks of series: the float64 draws of 30,000 series x 200 paths x 28 days are 1.3 GB each.
        step = max(1, _PATH_VALUES_PER_BLOCK // max(1, n_paths * n_blocks * s))
        for a in range(0, n, step):
            b = min(n, a + step)
            blocks = np.nan_to_num(self.residuals_[rows[a:b]], nan=0.0).reshape(b - a, self.window_seasons, s)
            drawn = blocks[np.arange(b - a)[:, None, None], pick[a:b]]  # (block, n_paths, n_blocks, s)
            noise = drawn.reshape(b - a, n_paths, n_blocks * s)[:, :, :horizon]
            values[a:b] = np.clip(point[a:b, None, :] + noise, 0.0, None)
        return SamplePaths(
            keys=self.keys_.iloc[rows].reset_index(drop=True),
            start=self.origin_ + pd.Timedelta(days=1),
            values=values,
            model=np.full(n, "seasonal_naive", dtype=object),
        )
