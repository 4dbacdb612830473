"""Drift of what was published: forecast changes between runs, and realized accuracy once actuals arrive.

- Forecast drift compares the current published run with the one published before it on the days and
  series both cover: per series, the relative change of the forecast total over those days; per
  segment, the mean absolute relative change and the share of series that moved more than a threshold.
- Realized accuracy scores every earlier published run whose forecast days now have sales, with
  :func:`forecasting.evaluation.metrics.evaluate` (scaled pinball loss, coverage per central
  interval, bias), by segment and ISO week (weeks start on Monday).
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.schema import SERIES_KEY, quantile_column
from forecasting.evaluation.metrics import evaluate
from forecasting.persistence import ResultStore, RunInfo
from forecasting.persistence.frames import parse_quantile_json

log = logging.getLogger(__name__)

KEY: Final = list(SERIES_KEY)
ALL: Final = "all"
# History used for the M5 scales of realized accuracy: the last 13 weeks before each run's first
# forecast day. The scale is the typical day-to-day change of a series; a quarter measures it well,
# keeps runs comparable, and keeps the cost flat on long histories (30,000 series x 2 years).
SCALE_HISTORY_DAYS: Final = 91
FORECAST_DRIFT_COLUMNS: Final = ["segment", "n_series", "mean_abs_rel_change", "share_moved"]
MOVER_COLUMNS: Final = ["sku", "channel", "segment", "previous_total", "current_total", "rel_change"]
ACCURACY_COLUMNS: Final = ["run_id", "segment", "week", "wspl", "mean_spl", "coverage_50", "coverage_67",
                           "coverage_95", "coverage_99", "bias", "n_series", "n_days"]


def published_runs(store: ResultStore, upto: RunInfo | None = None, limit: int = 100) -> list[RunInfo]:
    """Published runs, newest first, up to and including ``upto`` when given."""
    runs = [r for r in store.list_runs(limit=limit) if r.status == "published"]
    if upto is not None:
        runs = [r for r in runs if r.id <= upto.id]
    return runs


def read_forecasts(store: ResultStore, run: RunInfo, *, until: pd.Timestamp | None = None,
                   with_quantiles: bool = True) -> pd.DataFrame:
    """A run's forecast rows, optionally only up to ``until`` and without the quantile columns.

    Reads through the DB-API cursor: building SQLAlchemy rows costs more than the query for the
    hundreds of thousands of rows a large run has, and the drift report reads several runs.

    Returns:
        ``sku, channel, date, mean`` and, with ``with_quantiles``, one column per quantile of the run.
    """
    rows = store.forecast_rows(run.id, until=until, with_quantiles=with_quantiles)
    names = ["sku", "channel", "date", "mean", *(["quantiles"] if with_quantiles else [])]
    frame = pd.DataFrame.from_records(rows, columns=names)
    frame["date"] = pd.to_datetime(frame["date"].astype(str).str.slice(0, 10), format="%Y-%m-%d")
    frame["mean"] = frame["mean"].astype(float)
    if with_quantiles:
        qcols = [quantile_column(q) for q in run.quantiles]
        values = _parse_quantiles(frame.pop("quantiles").astype(str).tolist(), len(qcols))
        for i, col in enumerate(qcols):
            frame[col] = values[:, i]
    return frame


def _parse_quantiles(texts: list[str], n_levels: int) -> np.ndarray:
    """JSON arrays of numbers to a ``(len(texts), n_levels)`` array, parsed in C (3x orjson here)."""
    if not texts:
        return np.empty((0, n_levels))
    flat = np.fromstring(",".join(texts).replace("[", "").replace("]", ""), sep=",")
    if flat.size != len(texts) * n_levels:  # not plain arrays of numbers: take the strict parser
        return parse_quantile_json(texts, n_levels)
    return flat.reshape(len(texts), n_levels)


def relative_change(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``(current - previous) / previous``; from zero it is 0 when still zero, else +1 (a full move)."""
    prev = np.asarray(previous, dtype=float)
    cur = np.asarray(current, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (cur - prev) / prev
    return np.where(prev > 0, out, np.where(cur > 0, 1.0, 0.0))


def compare_totals(per: pd.DataFrame, labels: pd.DataFrame,
                   moved_change: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-segment forecast drift from per-series totals ``sku, channel, previous_total, current_total``.

    Returns:
        ``(by_segment, per_series)`` as :func:`compare_forecasts`.
    """
    if per.empty:
        return pd.DataFrame(columns=FORECAST_DRIFT_COLUMNS), pd.DataFrame(columns=MOVER_COLUMNS)
    per = per.copy()
    per["rel_change"] = relative_change(per["previous_total"].to_numpy(), per["current_total"].to_numpy())
    per = per.merge(labels, on=KEY, how="left")
    per["segment"] = per["segment"].fillna("new")
    absolute = per["rel_change"].abs()
    rows = []
    for seg, idx in [(ALL, per.index), *per.groupby("segment", sort=True).groups.items()]:
        a = absolute.loc[idx]
        rows.append({"segment": str(seg), "n_series": len(a), "mean_abs_rel_change": float(a.mean()),
                     "share_moved": float((a > moved_change).mean())})
    order = absolute.sort_values(ascending=False, kind="stable").index
    movers = per.loc[order, MOVER_COLUMNS].reset_index(drop=True)
    return pd.DataFrame(rows, columns=FORECAST_DRIFT_COLUMNS), movers


def compare_forecasts(previous: pd.DataFrame, current: pd.DataFrame, labels: pd.DataFrame,
                      moved_change: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-segment forecast drift and per-series changes between two forecast frames.

    Args:
        previous: Forecast rows ``sku, channel, date, mean`` of the earlier run.
        current: The same of the later run.
        labels: ``sku, channel, segment``; series without one are in segment ``new``.
        moved_change: Relative change of a series' total that counts as moved.

    Returns:
        ``(by_segment, per_series)``: ``segment, n_series, mean_abs_rel_change, share_moved`` (with an
        ``"all"`` row first) and ``sku, channel, segment, previous_total, current_total, rel_change``
        sorted by the size of the change. Only days and series both frames have are compared.
    """
    cols = [*KEY, "date", "mean"]
    both = previous[cols].merge(current[cols], on=[*KEY, "date"], suffixes=("_prev", "_cur"))
    per = both.groupby(KEY, sort=True, observed=True).agg(previous_total=("mean_prev", "sum"),
                                           current_total=("mean_cur", "sum")).reset_index()
    return compare_totals(per, labels, moved_change)


def overlap_totals(store: ResultStore, previous: RunInfo, current: RunInfo) -> pd.DataFrame:
    """Per-series forecast totals of both runs over the days and series both cover, summed in SQL.

    Returns:
        ``sku, channel, previous_total, current_total``.
    """
    sums = store.overlap_totals(previous.id, current.id)
    if sums.empty:
        return pd.DataFrame(columns=[*KEY, "previous_total", "current_total"])
    wide = sums.pivot_table(index=KEY, columns="run_id", values=["total", "n_days"], aggfunc="first")
    days_match = wide[("n_days", previous.id)] == wide[("n_days", current.id)]
    # A series missing some day in either run would compare unequal spans: leave it out.
    wide = wide[days_match.fillna(False)]
    return pd.DataFrame({
        "sku": wide.index.get_level_values(0), "channel": wide.index.get_level_values(1),
        "previous_total": wide[("total", previous.id)].to_numpy(dtype=float),
        "current_total": wide[("total", current.id)].to_numpy(dtype=float),
    })


def forecast_drift(
    store: ResultStore, run: RunInfo | None, labels: pd.DataFrame, *, moved_change: float = 0.2,
    n_movers: int = 25,
) -> tuple[pd.DataFrame, pd.DataFrame, int | None]:
    """Forecast drift of ``run`` against the run published before it.

    Returns:
        ``(by_segment, top movers, previous run id)``; empty frames and None without two runs.
    """
    empty = pd.DataFrame(columns=FORECAST_DRIFT_COLUMNS), pd.DataFrame(columns=MOVER_COLUMNS)
    if run is None:
        return *empty, None
    earlier = [r for r in published_runs(store, upto=run) if r.id < run.id]
    if not earlier:
        return *empty, None
    previous = earlier[0]
    by_segment, per = compare_totals(overlap_totals(store, previous, run), labels, moved_change)
    log.info("Forecast drift run %d vs %d: %d series compared", run.id, previous.id, len(per))
    return by_segment, per.head(n_movers), previous.id


def labels_from_segments(segments: pd.DataFrame) -> pd.DataFrame:
    """``sku, channel, segment`` with segment ``ABC-XYZ`` (``?`` where a class is missing)."""
    label = segments["abc"].fillna("?").astype(str) + "-" + segments["xyz"].fillna("?").astype(str)
    return pd.DataFrame(
        {"sku": segments["sku"].astype(str), "channel": segments["channel"].astype(str), "segment": label}
    )


def _run_labels(store: ResultStore, run: RunInfo, fallback: pd.DataFrame) -> pd.DataFrame:
    seg = store.get_segments(run.id)
    if seg.empty or not {"abc", "xyz"} <= set(seg.columns):
        return fallback
    return labels_from_segments(seg)


def score_forecast(forecast: pd.DataFrame, data: Dataset, labels: pd.DataFrame,
                   quantiles: tuple[float, ...]) -> pd.DataFrame:
    """Realized accuracy of one forecast against the sales in ``data``, by segment and week.

    Args:
        forecast: Canonical forecast rows; only days up to ``data.end_date`` are scored.
        data: Sales up to today (censored days are not scored).
        labels: ``sku, channel, segment``.
        quantiles: Levels of the forecast's quantile columns.

    Returns:
        ``segment, week, wspl, mean_spl, coverage_50/67/95/99, bias, n_series, n_days``; segment
        ``"all"`` rows are the whole catalogue per week. Empty if no forecast day has actuals yet.
    """
    fc = forecast[forecast["date"] <= data.end_date]
    if fc.empty:
        return pd.DataFrame(columns=ACCURACY_COLUMNS[1:])
    first = fc["date"].min()
    sales = data.sales
    scale_start = first - pd.Timedelta(days=SCALE_HISTORY_DAYS)
    history = sales[(sales["date"] < first) & (sales["date"] >= scale_start)]
    actuals = sales[(sales["date"] >= first) & (sales["date"] <= fc["date"].max())]
    if history.empty or actuals.empty:
        return pd.DataFrame(columns=ACCURACY_COLUMNS[1:])
    fc = fc.merge(labels, on=KEY, how="left")
    fc["segment"] = fc["segment"].fillna("new")
    fc["week"] = fc["date"] - pd.to_timedelta(fc["date"].dt.dayofweek, unit="D")
    # One evaluate call for the segments and the whole catalogue (rows repeated under "all"): the
    # series scales, the costly part on large histories, are then computed once.
    both = pd.concat([fc, fc.assign(segment=ALL)], ignore_index=True)
    out = evaluate(both, actuals, history, quantiles=quantiles, group_by=["segment", "week"])
    out = out.reindex(columns=ACCURACY_COLUMNS[1:])
    is_all = out["segment"] == ALL
    return pd.concat([out[is_all], out[~is_all]], ignore_index=True)


def realized_accuracy(data: Dataset, store: ResultStore, labels: pd.DataFrame, *,
                      upto: RunInfo | None = None, max_runs: int = 6) -> pd.DataFrame:
    """Score the newest ``max_runs`` published runs (up to ``upto``) whose forecast days have actuals.

    Each run is scored with its own published segments when it has them, else with ``labels``.

    Returns:
        ``run_id, segment, week, wspl, mean_spl, coverage_50/67/95/99, bias, n_series, n_days``.
    """
    if max_runs < 1:
        raise ValueError(f"The 'max_runs' of realized_accuracy must be >= 1. Got {max_runs}.")
    parts = []
    for run in published_runs(store, upto=upto)[:max_runs]:
        if not run.quantiles:
            continue
        forecast = read_forecasts(store, run, until=data.end_date)
        scored = score_forecast(forecast, data, _run_labels(store, run, labels), run.quantiles)
        if len(scored):
            parts.append(scored.assign(run_id=run.id))
            log.info("Realized accuracy: run %d scored on %d days", run.id, int(scored["n_days"].max()))
    if not parts:
        return pd.DataFrame(columns=ACCURACY_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[ACCURACY_COLUMNS]
    return out.sort_values(["run_id", "segment", "week"], kind="stable").reset_index(drop=True)
