"""The global LightGBM model: one quantile regression per level across every SKU-channel, plus a mean.

Design choices (and why):

* **One global model** over all series (not one per series): slow and new series borrow strength from
  the rest through shared features (calendar, events, category, channel, levels of their own demand).
* **Direct, no recursion, horizon-aware**: features come from :class:`features.builder.FeatureBuilder`
  in horizon-aware mode (``min_lag = max_horizon``): each training row gets a random horizon ``h`` in
  ``1..max_horizon`` and sees only demand up to ``h`` days before its target, with ``h`` as a feature;
  forecast rows get their true horizon. So day 1 uses yesterday's sales and day 28 what is known at
  the origin, from one model per quantile built by the same code as the training rows (no train/serve
  skew, no leakage). ``horizon_aware=False`` uses a fixed 28-day gap for every row instead.
* **One booster per quantile** (objective ``quantile``, ``alpha = q``) and one for the mean (objective
  ``tweedie``, suited to non-negative, zero-heavy counts). The binned training data are built once and
  shared by all boosters. Other levels asked at predict time are interpolated between the fitted ones
  (monotone, with exponential tails; :func:`models.paths.quantile_function`).
* **Bounded cost**: training rows are the last ``train_days`` days of observed (uncensored) demand,
  uniformly subsampled to ``max_train_rows``, so the boosters' cost does not grow with the catalogue.
  Measured with the defaults on 30,000 series x 730 days, 2 threads (``benchmarks/scale.py``):
  600,000 rows x 43 features built in 11 s, 10 boosters x 150 rounds in ~110 s, the 28-day forecast
  of every series (840,000 rows through 10 boosters) and the path correlation in ~60 s: ~190 s a fit.
  On m5-tiny 150 rounds at 0.1 scored as well as 300 at 0.05 (WSPL 0.743 vs 0.751 x seasonal naive,
  with 1,500 instead of 730 training days).
* **Warm refits** (:meth:`LightGBMQuantile.refit`, which a combination uses for its final fit after
  the holdout one): each booster of an earlier fit continues for ``warm_rounds`` rounds on the rows of
  the days after the chain's cold fit and the ``warm_overlap_days`` before it, at most the last
  ``warm_days`` (and at most a third of ``max_train_rows``), LightGBM's ``init_model``. The earlier
  trees keep what years of rows taught; the added ones learn the recent level, and the overlap keeps
  them from fitting the newest days alone. Continuing the fit made 56 days earlier for 30 rounds, vs a
  cold fit on all the data, WSPL on the 28-day holdout (``benchmarks/warm_refit.py``): on the 56 new
  days and 35 before them, m5-tiny 0.2926, online retail 0.3838, a 300-series synthetic catalogue
  0.2825, in 5-11 s; on the last 182 days 0.2963, 0.3828, 0.2814 in 6-19 s; cold 0.2964, 0.3941,
  0.2892 in 37-76 s (re-anchoring the old boosters alone: 0.3026, 0.4389, 0.3098; 30 or 50 rounds on
  365 days were worse than 182 days on all three). The 91 days take 60% of the 182 days' time (11 vs
  19 s on online retail) and inside the combination score alike (five holdouts in the README).
* **New and short series** (fewer than ``new_sku_days`` days since their first row) are served by the
  same global model; their missing lags are NaN, which LightGBM routes as learned. Their rows are
  marked ``lightgbm:new_sku``.
* **Sample paths**: a Gaussian copula with AR(1) correlation across days through each day's predicted
  quantile function (:func:`models.paths.paths_from_quantiles`). Unless ``path_rho`` is given, the
  correlation is the one that reproduces the spread of ``max_horizon``-day sums of in-sample PIT normal
  scores on recent days of a sample of series (:func:`models.paths.ar1_matching_sums`): lead-time totals
  are what the paths are for, and a lag-1 estimate misses the persistent part of the errors. Refreshes
  and warm refits keep the correlation of the fit they continue.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import clone

from features.builder import FeatureBuilder
from features.checks import flag, whole
from features.dataset import Dataset
from features.schema import M5_QUANTILES, quantile_column
from features.specs import FeatureSpec
from models.base import Forecaster, ParamCheck, SamplePaths
from models.paths import ar1_matching_sums, paths_from_quantiles, pit_values, quantile_function

logger = logging.getLogger(__name__)

BoosterTrainer = Callable[[dict[str, Any], pd.DataFrame, np.ndarray, int], lgb.Booster]

# Set by an execution engine above this layer (e.g. ``lightgbm.dask`` in ``training/``) to train each
# booster elsewhere from (params, features, target, rounds); None trains in this process.
BOOSTER_TRAINER: contextvars.ContextVar[BoosterTrainer | None] = contextvars.ContextVar(
    "BOOSTER_TRAINER", default=None
)

_RHO_SERIES = 600  # series sampled to estimate the day-to-day correlation of errors


def feature_matrix(
    frame: pd.DataFrame, pandas_categorical: list[list[Any]] | None
) -> np.ndarray | pd.DataFrame:
    """The float matrix LightGBM makes of a feature frame, made once for all the boosters that read it.

    Each booster's ``predict`` converts a DataFrame itself: ten boosters converted 840,000 forecast rows
    ten times at 30,000 series. Categorical columns become their codes in the categories the boosters
    were trained with (``pandas_categorical``), unknown and missing values NaN, as LightGBM does.

    Args:
        frame: The feature columns, in the boosters' order.
        pandas_categorical: The boosters' training categories, one list per categorical column.

    Returns:
        A float64 array; the frame itself when its categorical columns do not match the boosters'.
    """
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if len(categorical) != len(pandas_categorical or []):
        return frame
    out = np.empty(frame.shape, dtype=np.float64)
    known = dict(zip(categorical, pandas_categorical or [], strict=True))
    for j, column in enumerate(frame.columns):
        values = frame[column]
        if column in known:
            codes = values.cat.set_categories(known[column]).cat.codes.to_numpy()
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _quantile_levels(value: object) -> bool:
    try:
        levels = [float(q) for q in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return False
    return len(levels) >= 2 and all(0 < q < 1 for q in levels) and len(set(levels)) == len(levels)


class LightGBMQuantile(Forecaster):
    """Global LightGBM quantile forecaster (see the module docstring for the design).

    Args:
        quantiles: Levels fitted by their own booster (at least two, in (0, 1)).
        max_horizon: Longest horizon the model can forecast; also the builder's minimum lag.
        n_estimators: Boosting rounds per booster.
        learning_rate: Shrinkage per round.
        num_leaves: Leaves per tree.
        min_child_samples: Minimum rows per leaf.
        feature_fraction: Share of features tried per tree.
        train_days: Days of recent history that form the training rows.
        max_train_rows: Cap of training rows (uniform subsample beyond it).
        new_sku_days: Series younger than this (days since their first row) are tagged ``new_sku``.
        warm_rounds: Rounds each booster adds in a warm :meth:`refit`; 0 makes refits cold fits.
        warm_days: A warm refit trains on at most this many last days; a refit more than this many
            days after the last cold fit is a cold fit (a chain of refits does not grow forever).
        warm_overlap_days: A warm refit trains on the days after this chain's cold fit and this many
            days before it (which the earlier trees saw: they keep the added ones from fitting only the
            newest days), at most ``warm_days``; None: always the last ``warm_days`` days.
        tweedie_variance_power: Variance power of the mean booster's Tweedie objective, in [1, 2).
        path_rho: AR(1) correlation of the sample paths' copula in [0, 1); None estimates it.
        horizon_aware: Rows carry their own horizon (see above); False uses ``max_horizon`` for all.
        min_rows_per_sku: The SKU identity (``static_sku``) is a feature only when the training rows
            hold at least this many rows per SKU on average; None: whenever the specs ask for it.
        specs: Feature specs for the builder; None uses :func:`features.specs.default_specs`.
        n_jobs: LightGBM threads (default 1; the pipeline sets it deliberately).
        random_state: Seed of the row subsample, bagging and path estimation.
    """

    refreshable: ClassVar[bool] = True
    warm_refittable: ClassVar[bool] = True
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "quantiles": ParamCheck(_quantile_levels, "at least two distinct levels in (0, 1)"),
        "max_horizon": whole(1),
        "n_estimators": whole(1),
        "learning_rate": ParamCheck(lambda v: isinstance(v, float | int) and 0 < v <= 1,
                                    "a number in (0, 1]"),
        "num_leaves": whole(2),
        "min_child_samples": whole(1),
        "feature_fraction": ParamCheck(lambda v: isinstance(v, float | int) and 0 < v <= 1,
                                       "a number in (0, 1]"),
        "train_days": whole(7),
        "max_train_rows": whole(100),
        "new_sku_days": whole(1),
        "warm_rounds": whole(0),
        "warm_days": whole(28),
        "warm_overlap_days": whole(0, allow_none=True),
        "tweedie_variance_power": ParamCheck(lambda v: isinstance(v, float | int) and 1 <= v < 2,
                                             "a number in [1, 2)"),
        "path_rho": ParamCheck(lambda v: v is None or (isinstance(v, float | int) and 0 <= v < 1),
                               "None (estimate it) or a number in [0, 1)"),
        "horizon_aware": flag(),
        "min_rows_per_sku": whole(1, allow_none=True),
        "specs": ParamCheck(lambda v: v is None or isinstance(v, list | tuple), "None or a tuple of specs"),
        "n_jobs": whole(1),
        "random_state": whole(0),
    }

    def __init__(
        self,
        *,
        quantiles: Sequence[float] = M5_QUANTILES,
        max_horizon: int = 28,
        n_estimators: int = 150,
        learning_rate: float = 0.1,
        num_leaves: int = 63,
        min_child_samples: int = 100,
        feature_fraction: float = 0.8,
        train_days: int = 1500,
        max_train_rows: int = 600_000,
        new_sku_days: int = 56,
        warm_rounds: int = 30,
        warm_days: int = 182,
        warm_overlap_days: int | None = 35,
        tweedie_variance_power: float = 1.2,
        path_rho: float | None = None,
        horizon_aware: bool = True,
        min_rows_per_sku: int | None = 500,
        specs: Sequence[FeatureSpec] | None = None,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.quantiles = quantiles
        self.max_horizon = max_horizon
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.train_days = train_days
        self.max_train_rows = max_train_rows
        self.new_sku_days = new_sku_days
        self.warm_rounds = warm_rounds
        self.warm_days = warm_days
        self.warm_overlap_days = warm_overlap_days
        self.tweedie_variance_power = tweedie_variance_power
        self.path_rho = path_rho
        self.horizon_aware = horizon_aware
        self.min_rows_per_sku = min_rows_per_sku
        self.specs = specs
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _params(self, objective: str, **extra: Any) -> dict[str, Any]:
        return {
            "objective": objective,
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "feature_fraction": float(self.feature_fraction),
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "num_threads": int(self.n_jobs),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
            **extra,
        }

    def _fit(self, data: Dataset) -> None:
        started = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        levels = tuple(sorted(float(q) for q in self.quantiles))
        builder = FeatureBuilder(self.specs, min_lag=int(self.max_horizon),
                                 horizon_aware=self.horizon_aware).fit(data)
        first = max(data.start_date, data.end_date - pd.Timedelta(days=int(self.train_days) - 1))
        train = builder.transform(
            data, pd.date_range(first, data.end_date, freq="D"), observed_only=True,
            max_rows=int(self.max_train_rows), rng=rng,
        )
        if train.empty:
            raise ValueError(
                "Table 'sales' has no uncensored day in the last "
                f"{self.train_days} days to train LightGBMQuantile on. Give more history or raise train_days."
            )
        names = self._usable_features(builder.feature_names_, train)
        logger.info("lightgbm: %d training rows x %d features built in %.1f s", len(train), len(names),
                    time.perf_counter() - started)
        train_set = self._train_set(train, names, builder)
        boosters: dict[str, lgb.Booster] = {}
        trainer = BOOSTER_TRAINER.get()
        for name, params in self._jobs(levels):
            tick = time.perf_counter()
            if trainer is None:
                boosters[name] = lgb.train(params, train_set, num_boost_round=int(self.n_estimators))
            else:
                boosters[name] = trainer(params, train[names], train["target"].to_numpy(dtype=float),
                                         int(self.n_estimators))
            logger.info("lightgbm: booster %s fitted in %.1f s", name, time.perf_counter() - tick)

        self.builder_ = builder
        self.boosters_ = boosters
        self.levels_ = levels
        self.origin_ = data.end_date
        self.cold_origin_ = data.end_date
        self.max_horizon_ = int(self.max_horizon)
        self.feature_names_ = list(names)
        self.feature_importances_ = self._importance(boosters, names)
        self._precompute_forecast(data)
        self.rho_ = float(self.path_rho) if self.path_rho is not None else self._estimate_rho(data, rng)
        logger.info("lightgbm: fit done in %.1f s (rho=%.2f)", time.perf_counter() - started, self.rho_)

    def _train_set(self, train: pd.DataFrame, names: list[str], builder: FeatureBuilder) -> lgb.Dataset:
        return lgb.Dataset(train[names], label=train["target"].to_numpy(dtype=float),
                           categorical_feature=[c for c in builder.categorical_features_ if c in names],
                           free_raw_data=False,
                           params={"verbose": -1, "max_bin": 255, "num_threads": int(self.n_jobs)})

    def _jobs(self, levels: Sequence[float]) -> list[tuple[str, dict[str, Any]]]:
        """``(booster name, LightGBM parameters)`` of the mean booster and each quantile's."""
        jobs = [("mean", self._params("tweedie", tweedie_variance_power=float(self.tweedie_variance_power)))]
        return jobs + [(quantile_column(q), self._params("quantile", alpha=q)) for q in levels]

    def refit(self, data: Dataset) -> Self:
        """A fit on ``data`` that continues this fit's boosters (see "Warm refits" in the module docstring).

        Each booster adds ``warm_rounds`` rounds trained on the rows of ``data`` after this chain's cold
        fit and of the ``warm_overlap_days`` before it, at most the last ``warm_days`` days (and at most a
        third of ``max_train_rows``), with this fit's features, feature builder and path correlation.
        The first of those days is kept in ``warm_start_``.
        It is a cold fit instead when ``warm_rounds`` is 0 or ``data`` ends more than ``warm_days`` days
        after this chain's last cold fit.

        Args:
            data: The data to fit on; it ends on or after the data this fit was made on.
        """
        self._check_forward(data, "refit on")
        if int(self.warm_rounds) == 0 or (data.end_date - self.cold_origin_).days > int(self.warm_days):
            return clone(self).fit(data)
        started = time.perf_counter()
        rng = np.random.default_rng([int(self.random_state), 1])
        first = max(data.start_date, data.end_date - pd.Timedelta(days=int(self.warm_days) - 1))
        if self.warm_overlap_days is not None:
            first = max(first, self.cold_origin_ - pd.Timedelta(days=int(self.warm_overlap_days) - 1))
        train = self.builder_.transform(
            data, pd.date_range(first, data.end_date, freq="D"), observed_only=True,
            max_rows=max(int(self.max_train_rows) // 3, 1), rng=rng,
        )
        fresh = copy.copy(self)
        fresh.warm_start_ = first
        names = list(self.feature_names_ or [])
        if not train.empty:
            train_set = self._train_set(train, names, self.builder_)
            # init_model: the added trees fit what the earlier ones leave on the recent rows. They train
            # in this process even under an execution engine (BOOSTER_TRAINER): a few rounds on a third
            # of the rows cost less than shipping the rows to workers.
            fresh.boosters_ = {
                name: lgb.train(params, train_set, num_boost_round=int(self.warm_rounds),
                                init_model=self.boosters_[name])
                for name, params in self._jobs(self.levels_)
            }
            fresh.feature_importances_ = self._importance(fresh.boosters_, names)
        fresh.origin_ = data.end_date
        fresh._precompute_forecast(data)
        # The path correlation is kept, as refresh keeps it: a combination calibrates the spread of its
        # totals on its holdout fits' paths, and re-estimated it moved (0.855 -> 0.827 on m5-tiny) under
        # a factor learned for the old value (28-day totals' 95% quantile: 92.9% vs 92.5% of series).
        logger.info("lightgbm: warm refit (%d rounds on %d rows) in %.1f s", self.warm_rounds, len(train),
                    time.perf_counter() - started)
        return fresh

    def _usable_features(self, names: list[str], train: pd.DataFrame) -> list[str]:
        """The builder's features, without the SKU identity when too few training rows per SKU back it.

        A categorical with one level per SKU is learned from the rows of each SKU: with few rows per
        level it overfits, and its split search (over every level, at every leaf) was most of the
        boosting time at 10,000 SKUs (60 rows per SKU). LightGBM alone, with vs without it: online
        retail (316 rows per SKU) WSPL 0.4095 vs 0.3941; a 300-series synthetic catalogue (2,100 rows
        per SKU) 0.2892 vs 0.2954; a 40-series m5-tiny slice (650-700 rows per SKU) with inferred
        stockouts 0.2083 vs 0.2118; m5-tiny (about 4,000) 0.2964 vs 0.2960.
        """
        if self.min_rows_per_sku is None or "static_sku" not in names:
            return list(names)
        per_sku = len(train) / max(int(train["sku"].nunique()), 1)
        if per_sku >= int(self.min_rows_per_sku):
            return list(names)
        logger.info("lightgbm: %.0f training rows per SKU (< min_rows_per_sku %d): static_sku left out",
                    per_sku, self.min_rows_per_sku)
        return [n for n in names if n != "static_sku"]

    @staticmethod
    def _importance(boosters: dict[str, lgb.Booster], names: list[str]) -> pd.DataFrame:
        gain = sum(b.feature_importance(importance_type="gain") for b in boosters.values())
        total = float(np.sum(gain)) or 1.0
        frame = pd.DataFrame({"feature": names, "gain": np.asarray(gain, dtype=float) / total})
        return frame.sort_values("gain", ascending=False).reset_index(drop=True)

    def _predict_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sorted quantiles (rows x levels) of feature rows."""
        x = feature_matrix(frame.loc[:, self.feature_names_ or []], self.boosters_["mean"].pandas_categorical)
        mean = np.clip(self.boosters_["mean"].predict(x), 0.0, None)
        values = np.column_stack([self.boosters_[quantile_column(q)].predict(x) for q in self.levels_])
        values = np.sort(np.clip(values, 0.0, None), axis=1)
        return mean, values

    def _precompute_forecast(self, data: Dataset) -> None:
        # Every horizon up to max_horizon is known at fit (direct model): predict them once.
        horizon = int(self.max_horizon)
        dates = pd.date_range(data.end_date + pd.Timedelta(days=1), periods=horizon, freq="D")
        future = self.builder_.transform(data, dates)
        mean, values = self._predict_frame(future)
        n = len(future) // horizon
        self.keys_ = future.loc[::horizon, ["sku", "channel"]].reset_index(drop=True)
        self.mean_ = mean.reshape(n, horizon)
        self.quantile_values_ = values.reshape(n, horizon, len(self.levels_))
        first = data.sales.groupby(["sku", "channel"], sort=True, observed=True)["date"].min()
        age = (first.rsub(data.end_date).dt.days + 1).to_numpy()
        self.series_model_ = np.where(age < int(self.new_sku_days), "lightgbm:new_sku", "lightgbm")

    def _estimate_rho(self, data: Dataset, rng: np.random.Generator) -> float:
        """AR(1) correlation matching the spread of ``max_horizon``-day sums of in-sample PIT scores.

        Replays one forecast from the origin ``max_horizon`` days before the end of the data for a sample
        of series (in-sample, so the PITs are a little too central; the ratio of spreads it uses is
        much less affected than the spreads themselves).
        """
        window = int(self.max_horizon)
        if (data.end_date - data.start_date).days < 2 * window:
            return 0.0
        origin = data.end_date - pd.Timedelta(days=window)
        dates = pd.date_range(origin + pd.Timedelta(days=1), data.end_date, freq="D")
        chosen = np.sort(rng.choice(len(self.keys_), size=min(_RHO_SERIES, len(self.keys_)), replace=False))
        frame = self.builder_.transform(data, dates, series=chosen, origin=origin)
        series_id = np.repeat(chosen, len(dates))
        keep = frame["target"].notna().to_numpy()
        if keep.sum() < 10:
            return 0.0
        frame = frame[keep]
        _, values = self._predict_frame(frame)
        pit = pit_values(frame["target"].to_numpy(dtype=float), values, self.levels_, rng)
        return ar1_matching_sums(pit, series_id[keep], window=window)

    def refresh(self, data: Dataset) -> Self:
        """A copy that forecasts from the end of ``data`` with these boosters (no refit).

        The boosters are shared (read-only); features, keys and the precomputed forecast are rebuilt
        at the new origin, the path correlation is kept. A combination serves its last holdout fit this
        way: the global model learns from years of rows, and the last ``holdout_days`` add little that
        the features at the new origin do not already carry.

        Args:
            data: The data to forecast from; it must end on or after the fitted data's end.
        """
        self._check_forward(data, "refresh from")
        fresh = copy.copy(self)
        fresh.origin_ = data.end_date
        fresh._precompute_forecast(data)
        return fresh

    def _check_forward(self, data: Dataset, action: str) -> None:
        """Raise unless this model is fitted and ``data`` ends on or after the data it was fitted on."""
        self._check_fitted()
        if data.end_date < self.origin_:
            raise ValueError(
                f"Cannot {action} data ending {data.end_date.date()}, before the fitted data "
                f"({self.origin_.date()}). LightGBMQuantile moves forward only: pass data that extends "
                "the fitted data, or fit a new model on it."
            )

    def _check_horizon(self, horizon: int) -> None:
        if horizon > int(self.max_horizon):
            raise ValueError(
                f"The 'horizon' of {horizon} days exceeds max_horizon={self.max_horizon} of this "
                f"LightGBMQuantile. Refit with max_horizon >= {horizon}."
            )

    def _values_at(self, horizon: int, quantiles: Sequence[float]) -> np.ndarray:
        fitted = self.quantile_values_[:, :horizon]
        if tuple(quantiles) == self.levels_:
            return fitted
        u = np.broadcast_to(np.asarray(quantiles, dtype=float), (*fitted.shape[:2], len(quantiles)))
        return quantile_function(fitted, self.levels_, np.ascontiguousarray(u))

    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        self._check_horizon(horizon)
        values = self._values_at(horizon, quantiles)
        n = len(self.keys_)
        frame = self.keys_.loc[np.repeat(np.arange(n), horizon)].reset_index(drop=True)
        dates = pd.date_range(self.origin_ + pd.Timedelta(days=1), periods=horizon, freq="D")
        frame["date"] = np.tile(dates.to_numpy(), n)
        frame["mean"] = self.mean_[:, :horizon].reshape(-1)
        flat = values.reshape(n * horizon, len(quantiles))
        for j, q in enumerate(quantiles):
            frame[quantile_column(q)] = flat[:, j]
        frame["model"] = np.repeat(self.series_model_, horizon)
        return frame

    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        self._check_horizon(horizon)
        values = paths_from_quantiles(self.quantile_values_[rows, :horizon], self.levels_, n_paths, rng,
                                      rho=self.rho_)
        return SamplePaths(keys=self.keys_.iloc[rows].reset_index(drop=True),
                           start=self.origin_ + pd.Timedelta(days=1), values=values,
                           model=self.series_model_[rows].copy())
