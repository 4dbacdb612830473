"""A forecaster that knows the synthetic generator's truth: the ceiling of what any forecaster could do.

The policy benchmark plans BLENDED from it to separate what the rules can achieve from what the
forecasts cost: with the true daily mean and the generator's own noise law, the lead-time demand
distribution is as sharp as this catalogue allows. It only exists for synthetic data (it reads the
ground truth), so it lives with the benchmarks, not in ``models/``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.schema import SERIES_KEY
from features.synthetic.demand import LUMPY_SIZE_CV
from models.base import Forecaster, SamplePaths, forecast_frame

WEEK = 7


class OracleForecaster(Forecaster):
    """Sample paths from the generator's true mean and noise law (Gamma-Poisson, or bulk orders).

    Args:
        truth_mean: ``sku, channel, date, mean`` of the generator (``GroundTruth.mean``).
        truth_series: ``GroundTruth.series`` (``pattern, level, order_prob, noise_cv`` per series).

    Beyond the last date of the truth the last week's means repeat. The noise CV is each series' base
    CV (a later volatility shift is not known to it), so it is an oracle of the mean, not of every
    detail.
    """

    def __init__(self, *, truth_mean: pd.DataFrame | None = None,
                 truth_series: pd.DataFrame | None = None) -> None:
        self.truth_mean = truth_mean
        self.truth_series = truth_series

    def _fit(self, data: Dataset) -> None:
        if self.truth_mean is None or self.truth_series is None:
            raise ValueError("The OracleForecaster needs 'truth_mean' and 'truth_series' of a synthetic "
                             "catalogue. Pass GroundTruth.mean and GroundTruth.series.")
        self.keys_ = data.series()[list(SERIES_KEY)].reset_index(drop=True)
        self.origin_ = data.end_date
        params = self.keys_.merge(self.truth_series, on=list(SERIES_KEY), how="left")
        self.params_ = params[["pattern", "level", "order_prob", "noise_cv"]].reset_index(drop=True)

    def _means(self, horizon: int) -> np.ndarray:
        assert self.truth_mean is not None
        dates = pd.date_range(self.origin_ + pd.Timedelta(days=1), periods=horizon, freq="D")
        window = self.truth_mean[(self.truth_mean["date"] >= dates[0])
                                 & (self.truth_mean["date"] <= dates[-1])]
        pivot = window.pivot_table(index=list(SERIES_KEY), columns="date", values="mean", aggfunc="sum")
        mu = pivot.reindex(pd.MultiIndex.from_frame(self.keys_)).reindex(columns=dates).to_numpy(float)
        known = int((~np.isnan(mu)).any(axis=0).sum())
        if 0 < known < horizon:
            block = mu[:, max(0, known - WEEK):known]
            reps = -(-(horizon - known) // block.shape[1])
            mu[:, known:] = np.tile(block, reps)[:, : horizon - known]
        return np.nan_to_num(mu)

    def _draw(self, mu: np.ndarray, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        n, horizon = mu.shape
        p = self.params_
        lumpy = (p["pattern"] == "lumpy").to_numpy()
        out = np.zeros((n, n_paths, horizon), dtype=np.float32)
        steady = np.flatnonzero(~lumpy)
        if len(steady):
            cv = np.maximum(p["noise_cv"].to_numpy(float)[steady], 1e-3)[:, None, None]
            shape = np.broadcast_to(1.0 / cv**2, (len(steady), n_paths, horizon))
            rate = mu[steady][:, None, :] * rng.gamma(shape, 1.0 / shape)
            out[steady] = rng.poisson(rate)
        bulk = np.flatnonzero(lumpy)
        if len(bulk):
            size_mean = (p["level"].to_numpy(float)[bulk] / p["order_prob"].to_numpy(float)[bulk])
            prob = np.clip(mu[bulk] / size_mean[:, None], 0.0, 0.95)[:, None, :]
            k = 1.0 / LUMPY_SIZE_CV**2
            scale = np.broadcast_to((size_mean / k)[:, None, None], (len(bulk), n_paths, horizon))
            sizes = np.maximum(rng.poisson(rng.gamma(k, scale)), 1)
            out[bulk] = np.where(rng.random(sizes.shape) < prob, sizes, 0)
        return out

    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        values = self._draw(self._means(horizon), 500, np.random.default_rng(0))
        qvals = np.moveaxis(np.quantile(values, quantiles, axis=1), 0, -1)  # (n, horizon, n_q)
        return forecast_frame(self.keys_, self.origin_ + pd.Timedelta(days=1), values.mean(axis=1), qvals,
                              quantiles, np.full(len(self.keys_), "oracle", dtype=object))

    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        values = self._draw(self._means(horizon), n_paths, rng)[rows]
        return SamplePaths(self.keys_.iloc[rows].reset_index(drop=True), self.origin_ + pd.Timedelta(days=1),
                           values, model=np.full(len(rows), "oracle", dtype=object))
