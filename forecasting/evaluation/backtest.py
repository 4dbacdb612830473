"""Rolling-origin backtests: refit each model at several past origins and score what it would have said.

Origins step back from the end of the data: fold ``k`` trains on ``data.truncate(cutoff_k)`` and is
scored on the ``horizon`` days after ``cutoff_k``. Every model sees the same windows, so their scores
compare like with like (the champion/challenger rule relies on this).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from features.dataset import Dataset
from features.schema import M5_QUANTILES, SERIES_KEY
from forecasting.evaluation.metrics import evaluate, total_coverage
from forecasting.infrastructure.memory import release_freed_memory
from forecasting.infrastructure.progress import ProgressReporter, progress_reporter
from models.base import Forecaster, check_horizon, check_quantiles
from models.member_fits import FIT_PROGRESS, shared_member_fits

log = logging.getLogger(__name__)
KEY = list(SERIES_KEY)
TOTAL_LEVEL = 0.95


@dataclass
class BacktestResult:
    """What a backtest found.

    Attributes:
        forecasts: Every fold's forecast rows with ``name`` (the model's name in the backtest),
            ``fold`` and ``cutoff``; ``model`` keeps which path served the row.
        actuals: The scored sales rows of every fold (``fold`` column added).
        metrics: One row per model over all folds (see :func:`forecasting.evaluation.metrics.evaluate`),
            plus ``total_coverage_<L>`` columns and ``fit_seconds``/``predict_seconds``.
        fold_metrics: The same per model and fold.
        totals: Per model, fold, lead time and series: the 95% quantile of the L-day total from the
            sample paths and the actual total (NaN when the window holds a stockout day).
        timings: Seconds per model and fold for fitting and forecasting.
    """

    forecasts: pd.DataFrame
    actuals: pd.DataFrame
    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    totals: pd.DataFrame
    timings: pd.DataFrame = field(default_factory=pd.DataFrame)


def fold_cutoffs(data: Dataset, horizon: int, folds: int, step: int) -> list[pd.Timestamp]:
    """Training cutoffs, oldest first: the last one leaves exactly ``horizon`` days to score.

    Raises:
        ValueError: If the data are too short for the requested folds.
    """
    if folds < 1 or step < 1:
        raise ValueError(f"The 'folds' and 'step' must be >= 1. Got folds={folds}, step={step}.")
    last = data.end_date - pd.Timedelta(days=horizon)
    cutoffs = [last - pd.Timedelta(days=step * k) for k in range(folds)][::-1]
    if cutoffs[0] < data.start_date:
        days = int((data.end_date - data.start_date).days) + 1
        raise ValueError(
            f"The data span {days} days, too short for {folds} folds of horizon {horizon} stepping "
            f"{step} days (needs more than {horizon + step * (folds - 1)}). Use fewer folds or a "
            "shorter horizon."
        )
    return cutoffs


def _actual_totals(
    actuals: pd.DataFrame, keys: pd.DataFrame, lead_time: int, start: pd.Timestamp
) -> np.ndarray:
    """Observed L-day totals per series in ``keys`` order; NaN if censored or not fully observed."""
    window = actuals[actuals["date"] < start + pd.Timedelta(days=lead_time)]
    agg = window.groupby(KEY, observed=True).agg(
        total=("units", "sum"), n=("units", "size"), censored=("censored", "any")
    )
    agg.loc[agg["censored"] | (agg["n"] < lead_time), "total"] = np.nan
    return keys.merge(agg["total"].reset_index(), on=KEY, how="left")["total"].to_numpy(float)


def _total_rows(model: Forecaster, train: Dataset, total_series: int | None, seed: int) -> np.ndarray | None:
    """Positions in the model's series of a seeded sample of ``train``'s series (None: all of them)."""
    keys = train.series()
    if total_series is None or len(keys) <= total_series:
        return None
    sample = keys.iloc[np.sort(np.random.default_rng(seed).choice(len(keys), total_series, replace=False))]
    own = model.keys_[KEY].astype(str).reset_index(drop=True).reset_index()
    rows = sample[KEY].astype(str).merge(own, on=KEY, how="inner")["index"]
    return rows.to_numpy(dtype=np.int64)


def _with_n_jobs(model: Forecaster, n_jobs: int | None) -> Forecaster:
    if n_jobs is not None and "n_jobs" in model.get_params(deep=False):
        model.set_params(n_jobs=n_jobs)
    return model


def backtest(
    models: Mapping[str, Forecaster] | Callable[[], Forecaster],
    data: Dataset,
    *,
    horizon: int = 28,
    folds: int = 3,
    step: int | None = None,
    quantiles: Sequence[float] = M5_QUANTILES,
    total_lead_times: Sequence[int] = (7, 14, 28),
    n_paths: int = 200,
    total_series: int | None = 5000,
    n_jobs: int | None = None,
    random_state: int = 0,
    weights: str | None = "revenue",
    progress: bool | ProgressReporter = True,
) -> BacktestResult:
    """Rolling-origin backtest of one or several models on the same windows.

    Args:
        models: ``{name: unfitted model}`` (each is cloned per fold) or a factory returning a fresh
            model (named by its class).
        data: The full history.
        horizon: Days forecast from each origin.
        folds: Number of origins.
        step: Days between origins (default ``horizon``: non-overlapping windows).
        quantiles: Levels to forecast and score (should contain the interval levels reported).
        total_lead_times: Lead times whose totals' 95% coverage is measured from sample paths; those
            above ``horizon`` are skipped. Empty to skip sample paths.
        n_paths: Sample paths per series for the totals.
        total_series: At most this many series (a seeded random sample, the same for every model of a
            fold) have their totals' coverage measured; None measures all. A coverage share is
            known to +-0.6 points from 5,000 series, and drawing paths for all of 30,000 cost a few
            GB and minutes per model and fold.
        n_jobs: If given, set on every model that has an ``n_jobs`` parameter.
        random_state: Seed of the sample paths.
        weights: WSPL weighting (see :func:`forecasting.evaluation.metrics.evaluate`).
        progress: True shows a progress bar on the terminal, False reports nothing (a line per
            model and fold is logged either way), or a :class:`ProgressReporter` to report to.

    Returns:
        The :class:`BacktestResult`.
    """
    horizon = check_horizon(horizon)
    qs = check_quantiles(quantiles)
    step = horizon if step is None else int(step)
    candidates = dict(models) if isinstance(models, Mapping) else {type(models()).__name__: models()}
    if not candidates:
        raise ValueError("The 'models' to backtest are empty. Pass e.g. {'seasonal_naive': SeasonalNaive()}.")
    cutoffs = fold_cutoffs(data, horizon, folds, step)
    lead_times = [int(lt) for lt in total_lead_times if 1 <= int(lt) <= horizon]
    forecasts, actual_parts, totals, timings = [], [], [], []
    bar = progress_reporter(progress, "backtest")
    bar.start(len(candidates) * len(cutoffs))
    with shared_member_fits(), contextlib.ExitStack() as stack:
        stack.callback(bar.stop)
        for fold, cutoff in enumerate(cutoffs):
            train = data.truncate(cutoff)
            window_end = cutoff + pd.Timedelta(days=horizon)
            sales = data.sales
            actuals = sales[(sales["date"] > cutoff) & (sales["date"] <= window_end)].copy()
            if "censored" not in actuals:
                actuals["censored"] = False
            actuals["fold"] = fold
            actual_parts.append(actuals)
            for name, template in candidates.items():
                label = f"{name} fold {fold + 1}/{len(cutoffs)}"
                bar.update(label)
                model = _with_n_jobs(clone(template), n_jobs)
                t0 = time.perf_counter()
                token = FIT_PROGRESS.set(
                    lambda note, label=label: bar.update(f"{label}: {note}")  # type: ignore[misc]
                )
                try:
                    model.fit(train)
                finally:
                    FIT_PROGRESS.reset(token)
                t1 = time.perf_counter()
                fc = model.predict(horizon, qs)
                fc["name"], fc["fold"], fc["cutoff"] = name, fold, cutoff
                forecasts.append(fc)
                if lead_times:
                    rows = _total_rows(model, train, total_series, random_state + fold)
                    paths = model.sample_paths(horizon, n_paths=n_paths, random_state=random_state,
                                               rows=rows)
                    for lt in lead_times:
                        q = np.quantile(paths.totals(lt), TOTAL_LEVEL, axis=1)
                        actual = _actual_totals(actuals, paths.keys, lt, cutoff + pd.Timedelta(days=1))
                        totals.append(
                            paths.keys.assign(
                                name=name, fold=fold, lead_time=lt, q95=q, actual=actual
                            )
                        )
                t3 = time.perf_counter()
                timings.append(
                    {"name": name, "fold": fold, "fit_seconds": t1 - t0, "predict_seconds": t3 - t1}
                )
                log.info("backtest %s fold %d: fit %.1fs, forecast %.1fs", name, fold, t1 - t0, t3 - t1)
                # A line that stays: which model and fold are done, and what they cost.
                bar.note(f"{label}: fit {t1 - t0:.1f} s, forecast and paths {t3 - t1:.1f} s")
                bar.advance()
            # Free this fold's copy of the sales and its last fit before the next fold makes its own.
            del train, model
            release_freed_memory()
    fc_all = pd.concat(forecasts, ignore_index=True)
    act_all = pd.concat(actual_parts, ignore_index=True)
    tot_all = pd.concat(totals, ignore_index=True) if totals else pd.DataFrame(
        columns=[*KEY, "name", "fold", "lead_time", "q95", "actual"]
    )
    timing = pd.DataFrame(timings)
    fold_metrics = _fold_metrics(fc_all, act_all, data, cutoffs, qs, weights)
    metrics = _overall_metrics(fold_metrics, tot_all, timing, lead_times)
    return BacktestResult(fc_all, act_all, metrics, fold_metrics, tot_all, timing)


def _fold_metrics(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    data: Dataset,
    cutoffs: list[pd.Timestamp],
    qs: tuple[float, ...],
    weights: str | None,
) -> pd.DataFrame:
    parts = []
    for fold, cutoff in enumerate(cutoffs):
        history = data.sales[data.sales["date"] <= cutoff]
        scored = evaluate(
            forecasts[forecasts["fold"] == fold],
            actuals[actuals["fold"] == fold].drop(columns="fold"),
            history,
            quantiles=qs,
            weights="revenue" if weights == "revenue" else None,
            group_by="name",
        )
        parts.append(scored.assign(fold=fold))
    return pd.concat(parts, ignore_index=True)


def _overall_metrics(
    fold_metrics: pd.DataFrame, totals: pd.DataFrame, timing: pd.DataFrame, lead_times: list[int]
) -> pd.DataFrame:
    # Folds weigh equally (M5 averages over windows); coverage weighs by scored days.
    score_cols = ["wspl", "mean_spl", "rmsse", "bias"]
    cov_cols = [str(c) for c in fold_metrics.columns if str(c).startswith("coverage_")]
    rows = []
    for name_key, grp in fold_metrics.groupby("name", sort=False):
        name = str(name_key)
        rec: dict[str, object] = {"name": name}
        for col in score_cols:
            rec[col] = float(grp[col].mean())
        days = grp["n_days"].to_numpy(float)
        for col in cov_cols:
            vals = grp[col].to_numpy(float)
            rec[col] = float(np.sum(vals * days) / days.sum()) if days.sum() else np.nan
        for lt in lead_times:
            t = totals[(totals["name"] == name) & (totals["lead_time"] == lt)]
            rec[f"total_coverage_{lt}"] = total_coverage(t["q95"].to_numpy(), t["actual"].to_numpy())
        tm = timing[timing["name"] == name]
        rec["fit_seconds"] = float(tm["fit_seconds"].sum())
        rec["predict_seconds"] = float(tm["predict_seconds"].sum())
        rec["n_series"] = int(grp["n_series"].max())
        rows.append(rec)
    return pd.DataFrame(rows)
