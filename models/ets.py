"""Exponential smoothing (ETS) per series: statsmodels ``ETSModel`` chosen by AICc among a few forms.

Which series get ETS, and what the others get:

* A series is fitted when, over the last ``history_days`` (leading zeros before its first sale cut
  off), it spans at least ``min_history_days`` days, at least half that many of them uncensored,
  and its share of non-zero uncensored days is at least ``min_nonzero_share``; with ``max_series``
  set, only the highest-volume ``max_series`` of those are fitted (ETS costs ~10 ms per 364-day
  series for the two default forms on one core, ~100 ms with three forms and estimated initial
  states). These series are listed in
  ``covered_`` and their rows are tagged ``ets:<form>`` (e.g. ``ets:ANA``).
* Every other series still gets a forecast, because the contract asks for every series, but a
  deliberately simple one tagged ``ets:fallback``: days drawn independently from its last
  ``fallback_days`` uncensored days. Series without any sale in the window get zeros tagged
  ``ets:zero``. ``series_`` says, per series, the form or the reason for the fallback, so the
  combination can route fallback series to a model made for them (TSB, LightGBM).

Censored (stockout) days are imputed before fitting with the mean of the nearby uncensored days of
the same weekday, because a zero there would teach the model that demand vanished.

Uncertainty comes from the fitted state-space model itself. With additive errors the model is
linear-Gaussian, so the daily marginals are exact normals; quantiles and the mean are those of that
normal clipped at zero (no simulation noise). Sample paths simulate the same state equations with
Gaussian errors for all series at once in numpy, which keeps the correlation between days that
lead-time totals need; simulated demand is clipped at zero, the underlying states are not.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from features.checks import one_of, whole
from features.dataset import Dataset
from features.panel import Panel
from models._parallel import chunk_bounds, map_chunks, pack_recent, series_matrix
from models.base import Forecaster, ParamCheck, SamplePaths, forecast_frame
from models.ets_kernels import (
    AICC,
    ALPHA,
    BETA,
    FORM,
    FORMS,
    GAMMA,
    LEVEL,
    N_FIXED,
    PHI,
    SIGMA,
    TREND,
    WARN,
    advance_states,
    fit_chunk,
)
from models.imputation import impute_censored
from models.paths import nan_row_quantiles

log = logging.getLogger(__name__)

INITIALIZATIONS = ("heuristic", "estimated")
# Simulated values per block of series (block x paths x days): bounds the temporaries to ~100 MB.
_SIM_VALUES_PER_BLOCK = 4_000_000


def _valid_forms(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) > 0
        and len(set(value)) == len(value)
        and all(isinstance(v, str) and v in FORMS for v in value)
    )


class ETSForecaster(Forecaster):
    """Per-series exponential smoothing state-space models, form chosen by AICc.

    Args:
        forms: Candidate forms, codes of error/trend/seasonal: ``"ANN"``, ``"AAN"``, ``"AAdN"``
            (damped trend), ``"ANA"``, ``"AAA"``, ``"AAdA"``. The default leaves out the trends:
            AICc picks a (damped) trend for a sixth to a third of the series, and the next 28 days
            of daily demand rarely continue it. ETS alone, WSPL on the 28-day holdout of
            ``benchmarks/accuracy.py`` with ``("ANN", "AAdN", "ANA")`` vs ``("ANN", "ANA")``
            (estimated initial states): m5-tiny 0.3338 vs 0.3336, synthetic 0.3131 vs 0.3134,
            online retail 0.5100 vs 0.4332.
        season_length: Seasonal period in days.
        history_days: Fit on the last this many days only (cost grows with length; a year keeps
            the current weekly pattern and level).
        min_history_days: Fewer days of history (after the first sale) than this: fallback.
        min_nonzero_share: Share of non-zero uncensored days below this: fallback (intermittent
            series are better served by TSB).
        max_series: Fit at most this many eligible series, the highest-volume ones; None: all. The
            default keeps a 30,000-series catalogue within a few minutes on two cores; the capped
            rest get the fallback (``reason == "capped"``) and are better served by LightGBM.
        fallback_days: Recent uncensored days the fallback draws from.
        initialization: ``"heuristic"`` (default): the initial states come from statsmodels'
            decomposition of the first seasons and only the smoothing parameters are optimised;
            ``"estimated"``: the initial states are optimised too, eight more parameters for a weekly
            season. With the default forms, heuristic vs estimated, WSPL (fit seconds, two
            processes): m5-tiny 0.3357 vs 0.3336 (2.9 vs 7.4), synthetic 0.3147 vs 0.3134 (1.0 vs
            5.1), online retail 0.4298 vs 0.4332 (4.8 vs 29.1): a year of days forgets its start.
        chunk_size: Series per worker task.
        n_jobs: Worker processes for fitting; 1 fits in this process.

    Fitting and ``predict`` are deterministic; ``sample_paths`` takes its seed as an argument.

    Attributes:
        series_: Per series (``data.series()`` order): ``sku, channel, model`` (tag of its rows),
            ``covered`` (ETS fitted), ``reason`` (``fitted``, ``short``, ``intermittent``,
            ``capped``, ``failed`` or ``no_sales``), ``aicc``, ``alpha``, ``beta``, ``gamma``,
            ``phi``, ``sigma``.
        covered_: ``sku, channel`` of the series served by a fitted ETS model.
        fit_seconds_: Wall time spent fitting ETS models.
        start_: First forecast day.
        origin_: Last day of the data the states are anchored at (the fitted data's, or a refresh's).
        selected_on_: Last day of the data the forms were chosen on (by AICc among ``forms``); a warm
            :meth:`refit` keeps them.
    """

    refreshable: ClassVar[bool] = True
    warm_refittable: ClassVar[bool] = True

    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "forms": ParamCheck(_valid_forms, f"a non-empty tuple of distinct codes from {sorted(FORMS)}"),
        "season_length": whole(2, "a whole number of days >= 2"),
        "history_days": whole(28, "a whole number of days >= 28"),
        "min_history_days": whole(14, "a whole number of days >= 14"),
        "min_nonzero_share": ParamCheck(
            lambda v: isinstance(v, int | float) and 0.0 <= v <= 1.0, "a share in [0, 1]"
        ),
        "max_series": whole(0, allow_none=True),
        "fallback_days": whole(1, "a whole number of days >= 1"),
        "initialization": one_of(INITIALIZATIONS),
        "chunk_size": whole(1, "a whole number of series >= 1"),
        "n_jobs": whole(1, "a whole number of processes >= 1"),
    }

    def __init__(
        self,
        *,
        forms: tuple[str, ...] = ("ANN", "ANA"),
        season_length: int = 7,
        history_days: int = 364,
        min_history_days: int = 56,
        min_nonzero_share: float = 0.3,
        max_series: int | None = 2000,
        fallback_days: int = 56,
        initialization: str = "heuristic",
        chunk_size: int = 200,
        n_jobs: int = 1,
    ) -> None:
        self.forms = forms
        self.season_length = season_length
        self.history_days = history_days
        self.min_history_days = min_history_days
        self.min_nonzero_share = min_nonzero_share
        self.max_series = max_series
        self.fallback_days = fallback_days
        self.initialization = initialization
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit
    def _fit(self, data: Dataset) -> None:
        self._fit_from(data, None)
        self.selected_on_ = self.origin_

    def _fit_from(self, data: Dataset, earlier: ETSForecaster | None) -> None:
        """Fit every eligible series; those ``earlier`` covered warm-started from their fit there."""
        m = self.season_length
        if not 2 * m <= self.min_history_days <= self.history_days:
            raise ValueError(
                f"The 'min_history_days' of ETSForecaster must be at least two seasons "
                f"(2 x season_length = {2 * m}) and at most 'history_days' ({self.history_days}). "
                f"Got {self.min_history_days}."
            )
        matrix = series_matrix(data, self.history_days)
        units, live, observed, reason = self._eligibility(matrix)
        eligible = np.flatnonzero(reason == "fitted")
        if self.max_series is not None and len(eligible) > self.max_series:
            volume = np.nanmean(np.where(observed, matrix.units, np.nan)[eligible], axis=1)
            keep = eligible[np.argsort(-volume, kind="stable")[: self.max_series]]
            reason[np.setdiff1d(eligible, keep)] = "capped"
            eligible = np.sort(keep)

        starts = None if earlier is None else earlier._fits_of(matrix.keys.iloc[eligible])
        fitted = self._fit_series(np.where(live, units, np.nan)[eligible], starts)
        failed = fitted[:, FORM] < 0
        reason[eligible[failed]] = "failed"
        self._assemble(matrix, reason, eligible[~failed], fitted[~failed], observed)
        self.origin_ = matrix.dates[-1]

    def _eligibility(self, matrix: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Imputed units, live and observed masks, and each series' reason (``fitted`` if eligible)."""
        units = impute_censored(matrix, self.season_length)
        n, n_days = units.shape
        start = np.maximum(matrix.first_day, matrix.first_sale_day())
        cols = np.arange(n_days)
        live = cols[None, :] >= start[:, None]
        observed = live & ~matrix.censored
        n_live = live.sum(axis=1)
        n_obs = observed.sum(axis=1)
        nonzero = (np.nan_to_num(matrix.units, nan=0.0) > 0) & observed
        share = nonzero.sum(axis=1) / np.maximum(n_obs, 1)

        reason = np.full(n, "fitted", dtype=object)
        reason[share < self.min_nonzero_share] = "intermittent"
        reason[(n_live < self.min_history_days) | (2 * n_obs < self.min_history_days)] = "short"
        reason[start >= n_days] = "no_sales"
        return units, live, observed, reason

    def _assemble(self, matrix: Panel, reason: np.ndarray, covered_idx: np.ndarray, fitted: np.ndarray,
                  observed: np.ndarray) -> None:
        """Set the fitted state: per-series table, covered rows and their parameters, fallback sample."""
        form_names = np.array(list(FORMS), dtype=object)
        tags = np.where(reason == "no_sales", "ets:zero", "ets:fallback").astype(object)
        tags[covered_idx] = "ets:" + form_names[fitted[:, FORM].astype(int)]
        table = matrix.keys.copy()
        table["model"] = tags
        table["covered"] = False
        table.loc[covered_idx, "covered"] = True
        table["reason"] = reason
        for name, col in (("aicc", AICC), ("alpha", ALPHA), ("beta", BETA), ("gamma", GAMMA),
                          ("phi", PHI), ("sigma", SIGMA)):
            table[name] = np.nan
            table.loc[covered_idx, name] = fitted[:, col]
        self.series_ = table
        self.covered_ = table.loc[table["covered"], ["sku", "channel"]].reset_index(drop=True)
        self.keys_ = matrix.keys
        self.start_ = matrix.dates[-1] + pd.Timedelta(days=1)
        self.covered_index_ = covered_idx
        self.params_ = fitted  # rows aligned with covered_index_
        self.fallback_index_ = np.flatnonzero(~table["covered"].to_numpy())
        self.fallback_sample_ = pack_recent(
            np.where(observed, matrix.units, np.nan)[self.fallback_index_], self.fallback_days
        )
        counts = pd.Series(reason).value_counts().to_dict()
        log.info("ETS: %d series, %s", len(table), ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

    def refresh(self, data: Dataset) -> Self:
        """A copy that forecasts from the end of ``data`` with these parameters (no refit).

        Each covered series' level, trend and seasonal states are carried forward through the days
        after the fitted data with the fitted smoothing parameters (the model's own state equations,
        as statsmodels smooths them; censored days imputed as in a fit). Parameters barely move when a
        year-long fit sees a few more weeks, while the states follow every new day. Series not covered
        by the fit (including series that started since) get the fallback, reason ``"new"`` where a
        fit would have fitted them.

        Args:
            data: The data to forecast from: it must hold every covered series and end on or after the
                fitted data's end, at most ``history_days`` later.
        """
        self._check_fitted()
        days = int((data.end_date - self.origin_).days)
        if not 0 <= days <= int(self.history_days):
            raise ValueError(
                f"ETSForecaster can refresh from data ending 0 to {self.history_days} days after its fitted "
                f"data ({self.origin_.date()}). Got data ending {data.end_date.date()}. Fit it on that data "
                "instead."
            )
        matrix = series_matrix(data, self.history_days)
        units, _, observed, reason = self._eligibility(matrix)
        old_keys = self.keys_.iloc[self.covered_index_]
        where = old_keys.merge(matrix.keys.reset_index(), on=["sku", "channel"], how="left")["index"]
        if where.isna().any():
            missing = old_keys[where.isna().to_numpy()].head(5).to_dict("records")
            raise ValueError(
                f"The data to refresh ETSForecaster from lacks {int(where.isna().sum())} series it fitted, "
                f"e.g. {missing}. Refresh with data that extends the fitted data, or fit it again."
            )
        covered_idx = where.to_numpy(int)
        order = np.argsort(covered_idx, kind="stable")
        covered_idx, params = covered_idx[order], self.params_[order].copy()
        advance_states(params, units[covered_idx, units.shape[1] - days:], self.season_length)
        reason = np.where(reason == "fitted", "new", reason)
        reason[covered_idx] = "fitted"
        fresh = copy.copy(self)
        fresh._assemble(matrix, reason, covered_idx, params, observed)
        fresh.origin_ = matrix.dates[-1]
        return fresh

    def refit(self, data: Dataset) -> Self:
        """A new fit on ``data``, warm-started from this one.

        Each series this fit covers keeps its form, and the optimizer starts at its smoothing
        parameters; series it did not cover are fitted cold (every form competes). Forms chosen more
        than ``history_days // 2`` days before the end of ``data`` are chosen again (a cold fit), so a
        long chain of refits does not keep a form forever. ETS alone (default forms and initial states),
        warm-started from the fit 56 days earlier vs fitted cold, WSPL on the 28-day holdout: m5-tiny
        0.3337 vs 0.3357 (0.5 s vs 1.2 s), online retail 0.4310 vs 0.4298 (3.1 s vs 6.0 s), synthetic
        0.3155 vs 0.3147 (0.5 s vs 1.1 s): AICc re-chosen on a year that gained a few weeks mostly swaps
        between near-equal forms. (With the damped trend among the forms, retail's cold refit swapped
        to trends the following weeks did not continue: 0.4263 warm vs 0.5100 cold.)

        Args:
            data: The data to fit on; it ends on or after the data this fit was made on.
        """
        self._check_fitted()
        days = int((data.end_date - self.selected_on_).days)
        if days < 0:
            raise ValueError(
                f"ETSForecaster refits forward only: its forms were chosen on data ending "
                f"{self.selected_on_.date()}, and the data to refit on ends {data.end_date.date()}. Fit it "
                "on that data instead."
            )
        fresh = clone(self)
        if days > int(self.history_days) // 2:
            return fresh.fit(data)
        fresh._check_params()
        fresh._fit_from(data, self)
        fresh.selected_on_ = self.selected_on_
        fresh.is_fitted_ = True
        return fresh

    def _fits_of(self, keys: pd.DataFrame) -> np.ndarray:
        """This fit's rows (worker layout) for ``keys``; NaN rows for series it does not cover."""
        covered = self.keys_.iloc[self.covered_index_].reset_index(drop=True)
        pos = keys.merge(covered.reset_index(), on=["sku", "channel"], how="left")["index"].to_numpy()
        out = np.full((len(keys), self.params_.shape[1]), np.nan)
        hit = ~np.isnan(pos)
        out[hit] = self.params_[pos[hit].astype(int)]
        return out

    def _fit_series(self, rows: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
        forms = tuple(self.forms)
        width = N_FIXED + self.season_length
        if len(rows) == 0:
            self.fit_seconds_ = 0.0
            return np.empty((0, width))
        n_chunks = max(int(np.ceil(len(rows) / self.chunk_size)), self.n_jobs)
        tasks = [(rows[a:b], forms, self.season_length, None if starts is None else starts[a:b],
                  str(self.initialization))
                 for a, b in chunk_bounds(len(rows), n_chunks)]
        began = time.perf_counter()
        parts = list(map_chunks(fit_chunk, tasks, self.n_jobs, f"ETS fit of {len(rows)} series"))
        self.fit_seconds_ = time.perf_counter() - began
        fitted = np.vstack(parts)
        n_warned = int((fitted[:, WARN] > 0).sum())
        if n_warned:
            log.info(
                "ETS: %d of %d series raised optimizer warnings or unfittable forms; "
                "the lowest-AICc form that fitted is kept", n_warned, len(rows),
            )
        log.info("ETS: fitted %d series in %.1f s (%.0f ms per series)", len(rows),
                 self.fit_seconds_, 1000 * self.fit_seconds_ / len(rows))
        return fitted

    # ------------------------------------------------------------- forecast
    def _moments(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation ``(n_covered, horizon)`` of the unclipped Gaussian marginals."""
        p = self.params_
        m = self.season_length
        alpha, beta, gamma, phi = (p[:, c][:, None] for c in (ALPHA, BETA, GAMMA, PHI))
        steps = np.arange(1, horizon + 1)[None, :]
        phi_sum = np.cumsum(np.power(phi, steps), axis=1)  # phi + ... + phi^h
        season = p[:, N_FIXED:][:, (steps[0] - 1) % m]
        mean = p[:, LEVEL][:, None] + phi_sum * p[:, TREND][:, None] + season
        # h-step variance of the linear innovations model: sigma^2 (1 + sum_{j<h} c_j^2).
        c = alpha + beta * phi_sum + gamma * (steps % m == 0)
        csum = np.concatenate([np.zeros((len(p), 1)), np.cumsum(c**2, axis=1)[:, :-1]], axis=1)
        sd = p[:, SIGMA][:, None] * np.sqrt(1.0 + csum)
        return mean, sd

    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        n = len(self.keys_)
        means = np.zeros((n, horizon))
        qvals = np.zeros((n, horizon, len(quantiles)))
        if len(self.covered_index_):
            mu, sd = self._moments(horizon)
            sd = np.maximum(sd, 1e-12)
            z = mu / sd
            # Mean of the normal clipped at zero (demand is never negative).
            means[self.covered_index_] = mu * stats.norm.cdf(z) + sd * stats.norm.pdf(z)
            for k, q in enumerate(quantiles):
                qvals[self.covered_index_, :, k] = mu + sd * stats.norm.ppf(q)
        if len(self.fallback_index_):
            sample = self.fallback_sample_
            has = ~np.isnan(sample).all(axis=1)
            rows = self.fallback_index_[has]
            means[rows] = np.nanmean(sample[has], axis=1)[:, None]
            qvals[rows] = nan_row_quantiles(sample[has], quantiles)[:, None, :]
        return forecast_frame(self.keys_, self.start_, means, qvals, quantiles,
                              self.series_["model"].to_numpy())

    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        # Only the series in ``rows`` are simulated (in fitted order: drawing every series gives the same
        # paths as before), so a 2,000-series calibration sample of a 30,000-series catalogue costs a
        # fifteenth of drawing them all. Repeated rows are drawn once and copied.
        n = len(self.keys_)
        wanted, slot = np.unique(rows, return_inverse=True)
        where = np.full(n, -1)
        where[wanted] = np.arange(len(wanted))
        values = np.zeros((len(wanted), n_paths, horizon), dtype=np.float32)
        m = self.season_length
        chosen = np.flatnonzero(where[self.covered_index_] >= 0)
        p = self.params_[chosen]
        dest = where[self.covered_index_[chosen]]
        block = max(1, _SIM_VALUES_PER_BLOCK // (n_paths * max(m, horizon)))
        for a, b in chunk_bounds(len(p), int(np.ceil(len(p) / block))):
            q = p[a:b]
            col = {name: q[:, c][:, None] for name, c in (
                ("alpha", ALPHA), ("beta", BETA), ("gamma", GAMMA), ("phi", PHI), ("sigma", SIGMA))}
            level = np.repeat(q[:, LEVEL][:, None], n_paths, axis=1)
            trend = np.repeat(q[:, TREND][:, None], n_paths, axis=1)
            season = np.repeat(q[:, N_FIXED:][:, :, None], n_paths, axis=2)
            out = np.empty((b - a, n_paths, horizon), dtype=np.float32)
            for h in range(horizon):
                eps = rng.standard_normal(level.shape) * col["sigma"]
                damped = col["phi"] * trend
                base = level + damped
                s = season[:, h % m, :]
                out[:, :, h] = np.maximum(base + s + eps, 0.0)
                level = base + col["alpha"] * eps
                trend = damped + col["beta"] * eps
                season[:, h % m, :] = s + col["gamma"] * eps
            values[dest[a:b]] = out
        chosen = np.flatnonzero(where[self.fallback_index_] >= 0)
        sample = np.nan_to_num(self.fallback_sample_[chosen])
        counts = (~np.isnan(self.fallback_sample_[chosen])).sum(axis=1)
        dest = where[self.fallback_index_[chosen]]
        for a, b in chunk_bounds(len(sample), int(np.ceil(len(sample) / block))):
            # Independent days drawn from the recent observed days (a bootstrap); zeros if none.
            scale = np.maximum(counts[a:b], 1)[:, None, None]
            pick = (rng.random((b - a, n_paths, horizon)) * scale).astype(int)
            within = np.arange(b - a)[:, None, None]
            values[dest[a:b]] = sample[a:b][within, pick]
        model = self.series_["model"].to_numpy()
        if np.array_equal(rows, np.arange(n)):
            return SamplePaths(keys=self.keys_.copy(), start=self.start_, values=values, model=model)
        return SamplePaths(keys=self.keys_.iloc[rows].reset_index(drop=True), start=self.start_,
                           values=values[slot.reshape(-1)], model=model[rows])
