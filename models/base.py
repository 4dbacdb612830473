"""The one contract every forecaster follows, in the style of scikit-learn estimators.

``__init__`` only stores keyword parameters; ``fit(data)`` learns from a :class:`Dataset` and returns
``self``; learned state ends in ``_``; ``predict`` and ``sample_paths`` before ``fit`` raise
:class:`NotFittedError`. The contract is enforced: the hooks are abstract (``ABCMeta``), every
``__init__`` is keyword-only, every constructor parameter has a check declared once per class in
``_param_checks`` (run by ``fit``), and what a model can do is declared on the base class
(``max_horizon_``, ``feature_names_``, ``feature_importances_``, ``holdout_reach``; None when it does
not apply) rather than probed with ``getattr``. Quantile arrays are laid out
``(n_series, horizon, n_quantiles)`` everywhere.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from features.checks import ParamCheck as ParamCheck  # re-exported: models declare their checks with it
from features.checks import check_params, is_whole
from features.dataset import Dataset
from features.schema import DEFAULT_QUANTILES, SERIES_KEY, quantile_column


class NotFittedError(RuntimeError):
    """``predict`` or ``sample_paths`` was called before ``fit``."""


MAX_HORIZON_DAYS = 731
"""Longest horizon the commands accept: two years of daily forecasts (beyond, calendars overflow and
no daily model says anything useful)."""


def check_horizon(horizon: int, maximum: int | None = None) -> int:
    """Return ``horizon`` if it is a whole number of days >= 1 (and <= ``maximum``), else raise ValueError."""
    if not is_whole(horizon, 1):
        raise ValueError(f"The 'horizon' must be a whole number of days >= 1. Got {horizon!r}.")
    if maximum is not None and horizon > maximum:
        raise ValueError(
            f"The 'horizon' must be at most {maximum} days (two years of daily forecasts). Got {horizon}. "
            f"Fix: pass --horizon between 1 and {maximum}, e.g. 28."
        )
    return int(horizon)


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    """Return the sorted unique quantiles, each checked to lie in (0, 1)."""
    qs = tuple(sorted({float(q) for q in quantiles}))
    for q in qs:
        quantile_column(q)
    if not qs:
        raise ValueError("The 'quantiles' must not be empty. Give e.g. (0.05, 0.5, 0.95).")
    return qs


@dataclass
class SamplePaths:
    """Joint future demand scenarios per series: the source of every lead-time total.

    Attributes:
        keys: The ``(sku, channel)`` of each row of ``values``.
        start: Date of the first forecast day.
        values: Array of shape ``(n_series, n_paths, horizon)``, non-negative demand per day.
        model: Which model (or path) produced each series, aligned with ``keys``.
    """

    keys: pd.DataFrame
    start: pd.Timestamp
    values: np.ndarray
    model: np.ndarray | None = None

    @property
    def horizon(self) -> int:
        """Number of days each path covers."""
        return int(self.values.shape[2])

    def totals(self, lead_time: int | np.ndarray) -> np.ndarray:
        """Total demand over the next ``lead_time`` days, per series and path.

        Args:
            lead_time: Days, one for all series or an array with one per series; each in
                ``1..horizon``.

        Returns:
            Array ``(n_series, n_paths)``: the distribution of the L-day total, keeping the
            correlation between days because it sums within each path.
        """
        cum = np.cumsum(self.values, axis=2)
        lt = np.broadcast_to(np.asarray(lead_time, dtype=int), (self.values.shape[0],))
        if (lt < 1).any() or (lt > self.horizon).any():
            raise ValueError(
                f"The 'lead_time' must be in 1..{self.horizon} days (the paths' horizon). "
                f"Got {sorted(set(lt.tolist()))[:5]}. Forecast a longer horizon for longer lead times."
            )
        return cum[np.arange(cum.shape[0]), :, lt - 1]


class Forecaster(BaseEstimator, metaclass=ABCMeta):
    """Base class of every Blendcast forecaster.

    Subclasses implement ``_fit``, ``_predict`` and ``_sample_rows``; the public methods check the
    parameters and the fitted state and put the output into the canonical forecast format: one row
    per ``sku, channel, date`` with ``mean``, one column per quantile named by its decimal string, and
    ``model`` saying which model or path served the row.

    Attributes:
        keys_: The ``sku, channel`` of each fitted series, in the order of the sample paths.
        max_horizon_: The longest horizon the fitted model forecasts; None: any horizon.
        feature_names_: The features the fitted model reads (those of its members for a combination);
            None for models without features.
        feature_importances_: ``feature, gain`` (gains summing to 1) of a model with features; None
            otherwise.
        refreshable: The class implements :meth:`refresh` (forecast from newer data without refitting).
        warm_refittable: The class implements :meth:`refit` (fit newer data starting from this fit).
    """

    # One check per constructor parameter (the contract test holds every model to it).
    _param_checks: ClassVar[dict[str, ParamCheck]] = {}
    keys_: pd.DataFrame
    max_horizon_: int | None = None
    feature_names_: list[str] | None = None
    feature_importances_: pd.DataFrame | None = None
    refreshable: ClassVar[bool] = False
    warm_refittable: ClassVar[bool] = False

    @property
    def holdout_reach(self) -> int | None:
        """Days before the data's end at which ``fit`` fits members on an internal holdout (the oldest
        origin it asks :mod:`models.member_fits` for); None for models without an internal holdout."""
        return None

    def refresh(self, data: Dataset) -> Self:
        """A copy that forecasts from the end of ``data`` with the fitted parameters (no refit).

        Only models that declare ``refreshable = True`` implement it; a combination re-anchors such
        members at its later holdout origins instead of refitting them.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot refresh (refreshable is False). Fit it on the new data instead."
        )

    def refit(self, data: Dataset) -> Self:
        """A new fit on ``data`` (ending on or after the fitted data) warm-started from this fit.

        Only models that declare ``warm_refittable = True`` implement it: the choices the fit made
        (e.g. ETS forms) are kept and its optimizer starts at the fitted parameters. A combination
        refits such members so after its holdout fit instead of fitting them cold.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot refit warm (warm_refittable is False). Fit a clone on the new "
            "data instead."
        )

    def _check_params(self) -> None:
        check_params(type(self).__name__, self._param_checks,
                     **{name: getattr(self, name) for name in self._param_checks})

    def _check_fitted(self) -> None:
        if not getattr(self, "is_fitted_", False):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call 'fit' with a Dataset first."
            )

    def fit(self, data: Dataset) -> Self:
        """Learn from the canonical data.

        Args:
            data: Validated tables; ``sales`` complete, censored days flagged.

        Returns:
            self.
        """
        self._check_params()
        if data.sales.empty:
            raise ValueError("Table 'sales' is empty: there is nothing to fit. Add sales rows.")
        self._fit(data)
        self.is_fitted_ = True
        return self

    def predict(
        self, horizon: int, quantiles: Sequence[float] = DEFAULT_QUANTILES
    ) -> pd.DataFrame:
        """Forecast ``horizon`` days after the last fitted date.

        Args:
            horizon: Days ahead, >= 1.
            quantiles: Levels in (0, 1).

        Returns:
            The canonical forecast frame; quantiles are non-negative and never cross.
        """
        horizon = check_horizon(horizon)
        qs = check_quantiles(quantiles)
        self._check_fitted()
        frame = self._predict(horizon, qs)
        return finalize_forecast(frame, qs)

    def sample_paths(
        self, horizon: int, n_paths: int = 500, random_state: int = 0, rows: np.ndarray | None = None
    ) -> SamplePaths:
        """Draw ``n_paths`` joint scenarios of the next ``horizon`` days for every series.

        Args:
            horizon: Days ahead, >= 1.
            n_paths: Scenarios per series, >= 1.
            random_state: Seed of the draws.
            rows: Positions in ``keys_`` of the only series to draw (e.g. a sample of a large catalogue
                for a coverage statistic); None draws every series. Models that can draw a subset
                directly do (same distribution, another random stream); the others draw all and keep
                these rows.
        """
        horizon = check_horizon(horizon)
        if not is_whole(n_paths, 1):
            raise ValueError(f"The 'n_paths' must be a whole number >= 1. Got {n_paths!r}.")
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        n_series = len(self.keys_)
        if rows is None:
            return self._sample_rows(horizon, n_paths, rng, np.arange(n_series))
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= n_series)):
            raise ValueError(
                f"The 'rows' must be positions of fitted series, in [0, {n_series}). "
                f"Got {rows.size} positions from {rows.min(initial=0)} to {rows.max(initial=0)}."
            )
        return self._sample_rows(horizon, n_paths, rng, rows)

    @abstractmethod
    def _fit(self, data: Dataset) -> None:
        """Learn from ``data`` and set ``keys_`` (and the capabilities that apply)."""

    @abstractmethod
    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        """The forecast frame of every fitted series (before :func:`finalize_forecast`)."""

    @abstractmethod
    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        """Paths ``(len(rows), n_paths, horizon)`` of the series at positions ``rows`` of ``keys_``,
        in that order (``sample_paths`` passes every position, in order, for a whole draw)."""


def forecast_frame(
    keys: pd.DataFrame,
    start: pd.Timestamp,
    mean: np.ndarray,
    quantile_values: np.ndarray,
    quantiles: Sequence[float],
    model: np.ndarray,
) -> pd.DataFrame:
    """Lay per-series arrays out as the long forecast frame (before :func:`finalize_forecast`).

    Args:
        keys: ``sku, channel`` of each series.
        start: First forecast date.
        mean: ``(n_series, horizon)`` means.
        quantile_values: ``(n_series, horizon, n_quantiles)``, levels in the order of ``quantiles``.
        quantiles: The levels.
        model: ``(n_series,)`` which model or path served each series.
    """
    n, horizon = mean.shape
    frame = pd.DataFrame({
        "sku": np.repeat(keys["sku"].to_numpy(), horizon),
        "channel": np.repeat(keys["channel"].to_numpy(), horizon),
        "date": np.tile(pd.date_range(start, periods=horizon, freq="D"), n),
        "mean": np.asarray(mean).ravel(),
    })
    flat = np.asarray(quantile_values).reshape(n * horizon, len(quantiles))
    for k, q in enumerate(quantiles):
        frame[quantile_column(q)] = flat[:, k]
    frame["model"] = np.repeat(np.asarray(model), horizon)
    return frame


def finalize_forecast(frame: pd.DataFrame, quantiles: Sequence[float]) -> pd.DataFrame:
    """Clip at zero, sort the quantile columns so they never cross, order rows and columns."""
    cols = [quantile_column(q) for q in sorted(quantiles)]
    values = np.clip(frame[cols].to_numpy(dtype=float), 0.0, None)
    values.sort(axis=1)
    out = frame.copy()
    out[cols] = values
    out["mean"] = np.clip(out["mean"].to_numpy(dtype=float), 0.0, None)
    if "model" not in out:
        out["model"] = "unknown"
    order = [*SERIES_KEY, "date", "mean", *cols, "model"]
    return out[order].sort_values([*SERIES_KEY, "date"]).reset_index(drop=True)
