"""The weekly job's closed loop: score earlier published plans against the demand that followed.

Each published run stores, per series, the quantile grid of demand over lead time + review period
(``ltd_levels`` / ``ltd_quantiles``), its reorder point and its service target. Once
``ceil(lead_time_mean) + R`` days have passed since a run's planning date, the realized total of
those days is known:

- its PIT, read off the published grid (linear between levels; below the lowest level half of it,
  above the highest halfway to 1), feeds a :class:`LeadTimeDemandCalibration` per demand pattern x
  lead-time bucket, which this run's plan uses to pick the level that delivers each class's target;
- per class, the share of SAFETY_STOCK series whose realized total stayed at or under the published
  reorder point is the realized cycle service of those plans (``realized``) against ``target``;
  these go to the run's metrics (MLflow) as ``ltd_target_<class>``, ``ltd_realized_<class>``,
  ``ltd_n_<class>``.

The grid is the lead-time mixture the reorder point was read from, scored on the fixed horizon of
the mean lead time: close enough to steer the level, and stated here so nobody over-reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.schema import SERIES_KEY
from forecasting.inventory.ltd_calibration import LeadTimeDemandCalibration, calibration_groups


def grid_pit(levels: Sequence[float], quantiles: Sequence[float], realized: float) -> float:
    """The level at which a published quantile grid reaches ``realized`` (see the module docstring)."""
    lv, qv = np.asarray(levels, dtype=float), np.maximum.accumulate(np.asarray(quantiles, dtype=float))
    if realized < qv[0]:
        return float(lv[0] / 2)
    if realized > qv[-1]:
        return float((lv[-1] + 1.0) / 2)
    hit = np.flatnonzero(qv == realized)
    if len(hit):  # a flat stretch (e.g. many zero totals): its middle level
        return float(lv[hit].mean())
    return float(np.interp(realized, qv, lv))


def _realized(data: Dataset, as_of: pd.Timestamp, frame: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """Units sold per row over ``days[i]`` days after ``as_of`` (NaN when a day is censored)."""
    sales = data.sales[(data.sales["date"] > as_of) & (data.sales["date"] <= as_of + pd.Timedelta(
        days=int(days.max(initial=1))))]
    offset = (sales["date"] - as_of).dt.days.to_numpy()
    keys = frame[list(SERIES_KEY)].astype(str).reset_index(drop=True).reset_index()
    row = sales[list(SERIES_KEY)].astype(str).merge(keys, on=list(SERIES_KEY), how="left")["index"]
    ok = row.notna().to_numpy()
    inside = ok & (offset <= days[np.nan_to_num(row.to_numpy(float)).astype(int)])
    units = sales["units"].to_numpy(dtype=float)
    censored = sales["censored"].to_numpy(dtype=bool) if "censored" in sales else np.zeros(len(sales), bool)
    total = np.bincount(row[inside].astype(int), weights=units[inside], minlength=len(frame))
    bad = np.bincount(row[inside & censored].astype(int), minlength=len(frame)) > 0
    return np.where(bad, np.nan, total)


def score_published(
    history: Sequence[tuple[pd.Timestamp, pd.DataFrame]], data: Dataset, review_days: int,
    prior_weight: float = 30.0, seed: int = 0,
) -> tuple[LeadTimeDemandCalibration, pd.DataFrame]:
    """PITs and per-class realized service of earlier published plans whose horizon has passed.

    Args:
        history: ``(planning date, published policies)`` of earlier runs; the policies need
            ``sku, channel, policy, abc, pattern, service_level, reorder_point, lead_time_mean,
            ltd_levels, ltd_quantiles``.
        data: This run's data (sales up to ``data.end_date``).
        review_days: R.
        prior_weight: Shrinkage of the calibration.
        seed: Seed of the calibration.

    Returns:
        The calibration, and one row per class: ``class, target, realized, n``.
    """
    calibration = LeadTimeDemandCalibration(prior_weight=prior_weight, seed=seed)
    rows = []
    need = {"ltd_levels", "ltd_quantiles", "lead_time_mean", "pattern", "abc", "reorder_point"}
    for as_of, frame in history:
        if frame.empty or not need <= set(frame.columns):
            continue
        days = np.ceil(frame["lead_time_mean"].to_numpy(dtype=float)).astype(int) + review_days
        due = as_of + pd.to_timedelta(days, unit="D") <= data.end_date
        if not due.any():
            continue
        sub = frame[due].reset_index(drop=True)
        realized = _realized(data, as_of, sub, days[due])
        groups = calibration_groups(sub["pattern"], sub["lead_time_mean"].to_numpy(dtype=float))
        for i, r in enumerate(sub.itertuples(index=False)):
            grid_ok = isinstance(r.ltd_levels, list | tuple | np.ndarray) and len(r.ltd_levels) >= 2
            if not np.isfinite(realized[i]) or not grid_ok:
                continue
            calibration.pits.setdefault(str(groups[i]), []).append(
                grid_pit(r.ltd_levels, r.ltd_quantiles, float(realized[i])))
            if r.policy == "SAFETY_STOCK":
                rows.append({"class": r.abc, "target": float(r.service_level),
                             "covered": float(realized[i] <= float(r.reorder_point) + 1e-9)})
    table = pd.DataFrame(rows, columns=["class", "target", "covered"])
    summary = table.groupby("class").agg(target=("target", "mean"), realized=("covered", "mean"),
                                         n=("covered", "size")).reset_index()
    return calibration, summary


def service_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """``ltd_target_<class>``, ``ltd_realized_<class>`` and ``ltd_n_<class>`` for the run's metrics."""
    out: dict[str, float] = {}
    for r in summary.to_dict(orient="records"):
        out[f"ltd_target_{r['class']}"] = float(r["target"])
        out[f"ltd_realized_{r['class']}"] = float(r["realized"])
        out[f"ltd_n_{r['class']}"] = float(r["n"])
    return out


__all__ = ["grid_pit", "score_published", "service_metrics"]
