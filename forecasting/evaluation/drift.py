"""Drift between a reference window and a recent window, and the verdict an analyst reads first.

Four kinds of drift are measured, all broken down by segment (``ABC-XYZ`` of the served run):

- Input drift per feature: the builder's demand-derived features (lags, rolling levels, EWMs, price,
  intermittency) on sampled days of each window, compared by the population stability index (PSI, with
  quantile bins taken from the reference window) and the two-sample Kolmogorov-Smirnov test.
- Demand level and variance drift per segment: the ratio of mean daily demand and of the median
  per-series CV between the windows, each with a paired Wilcoxon signed-rank test over the series.
- Forecast drift between the previous and the current published run (see
  :mod:`forecasting.evaluation.realized_accuracy`).
- Realized accuracy of earlier published runs whose days now have actuals (also there).

PSI reads as the usual rule of thumb: below 0.1 stable, 0.1 to 0.25 worth watching, above 0.25 a real
shift. With tens of thousands of rows every KS p-value is tiny, so the verdict rests on effect sizes
(PSI, ratios, coverage gaps) and uses the tests only to rule out noise.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import stats

from features.builder import FeatureBuilder
from features.checks import ParamCheck, check_params, is_whole
from features.dataset import Dataset
from features.schema import SERIES_KEY
from features.specs import EWM, Intermittency, Lags, RollingOnLag
from forecasting.evaluation.realized_accuracy import forecast_drift, labels_from_segments, realized_accuracy
from forecasting.inventory.segmentation import segment
from forecasting.persistence import ResultStore, RunInfo
from forecasting.signals.matrix import demand_matrix
from forecasting.signals.volatility import detect_volatility_shifts

log = logging.getLogger(__name__)

KEY: Final = list(SERIES_KEY)
ALL: Final = "all"
# A floor on bin shares: an empty bin would make the log ratio infinite.
PSI_EPS: Final = 1e-4
# Days of history before the reference window the features need: lag 35 + 91-day zero share, and the
# EWMs' memory (alpha 0.05 keeps under 1% of its weight beyond 90 days).
FEATURE_HISTORY_DAYS: Final = 150
VOLATILITY_HISTORY_DAYS: Final = 182

_CHECKS: Final = {
    "reference_days": ParamCheck(lambda v: is_whole(v, 14), "a whole number of days >= 14"),
    "recent_days": ParamCheck(lambda v: is_whole(v, 7), "a whole number of days >= 7"),
    "bins": ParamCheck(lambda v: is_whole(v, 2, 100), "a whole number of bins in 2..100"),
    "days_per_window": ParamCheck(lambda v: is_whole(v, 1), "a whole number of days >= 1"),
    "max_feature_rows": ParamCheck(lambda v: is_whole(v, 1000), "a whole number of rows >= 1000"),
    "max_feature_series": ParamCheck(lambda v: is_whole(v, 100), "a whole number of series >= 100"),
}


@dataclass(frozen=True)
class DriftThresholds:
    """Where a finding turns the verdict to WATCH or ACT.

    Attributes:
        psi_watch: Feature PSI (all series) from which to watch.
        psi_act: Feature PSI (all series) from which to act.
        segment_psi_act: PSI of a feature inside one segment that counts as a watch finding.
        level_watch: Relative change of a segment's mean demand to watch (0.25 = +-25%).
        level_act: Relative change of an A-class segment's mean demand to act on.
        cv_watch: Relative change of a segment's median CV to watch.
        p_value: Significance of the demand tests.
        moved_share_watch: Share of series whose forecast moved more than ``moved_change`` to watch.
        moved_change: Relative change of a series' forecast total that counts as moved.
        coverage_gap_watch: Shortfall of realized 95% coverage below 0.95 to watch.
        coverage_gap_act: Shortfall of realized 95% coverage below 0.95 to act on.
        volatility_share_watch: Share of series with a volatility shift inside the windows to watch.
        min_rows: Fewest rows on each side to score a feature inside a segment.
    """

    psi_watch: float = 0.1
    psi_act: float = 0.25
    segment_psi_act: float = 0.25
    level_watch: float = 0.25
    level_act: float = 0.5
    cv_watch: float = 0.3
    p_value: float = 0.01
    moved_share_watch: float = 0.25
    moved_change: float = 0.2
    coverage_gap_watch: float = 0.05
    coverage_gap_act: float = 0.12
    volatility_share_watch: float = 0.02
    min_rows: int = 50


@dataclass
class DriftResult:
    """Everything :func:`compute_drift` found.

    Attributes:
        input_drift: ``feature, segment, psi, ks_stat, ks_pvalue, n_reference, n_recent``; segment
            ``"all"`` is the whole catalogue.
        demand_drift: Per segment (and ``"all"``): ``n_series, mean_reference, mean_recent,
            level_ratio, level_pvalue, cv_reference, cv_recent, cv_ratio, cv_pvalue``.
        forecast_drift: Per segment: ``n_series, mean_abs_rel_change, share_moved`` (empty without a
            previous run).
        forecast_movers: The series whose forecast moved most: ``sku, channel, segment,
            previous_total, current_total, rel_change``.
        accuracy: Realized accuracy of earlier runs by ``run_id, segment, week`` (``segment`` "all"
            rows give the totals per week).
        volatility: Volatility shifts whose change falls inside the two windows.
        summary: JSON-able findings: ``verdict`` (OK, WATCH or ACT), ``reasons``, windows, counts.
    """

    input_drift: pd.DataFrame
    demand_drift: pd.DataFrame
    forecast_drift: pd.DataFrame
    forecast_movers: pd.DataFrame
    accuracy: pd.DataFrame
    volatility: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``OK``, ``WATCH`` or ``ACT``."""
        return str(self.summary.get("verdict", "OK"))


def psi_from_counts(reference: np.ndarray, recent: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index of two histograms over the same bins.

    ``sum((q - p) * ln(q / p))`` over bins, with ``p``, ``q`` the reference and recent shares, each
    floored at ``eps`` so an empty bin counts as rare, not impossible.

    Raises:
        ValueError: If the shapes differ or a histogram is empty or negative.
    """
    ref = np.asarray(reference, dtype=float)
    rec = np.asarray(recent, dtype=float)
    if ref.shape != rec.shape or ref.ndim != 1:
        raise ValueError(
            f"The two histograms must have the same bins. Got shapes {ref.shape} and {rec.shape}."
        )
    if (ref < 0).any() or (rec < 0).any() or ref.sum() <= 0 or rec.sum() <= 0:
        raise ValueError("Histogram counts must be >= 0 with a positive total on both sides.")
    p = np.maximum(ref / ref.sum(), eps)
    q = np.maximum(rec / rec.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def quantile_bins(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Interior bin edges at the reference's quantiles; tied quantiles (e.g. many zeros) merge."""
    ref = np.asarray(reference, dtype=float)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """PSI of ``recent`` against ``reference`` with ``bins`` quantile bins of the reference.

    Missing values are dropped; NaN when either side has nothing left.
    """
    ref = np.asarray(reference, dtype=float)
    rec = np.asarray(recent, dtype=float)
    ref, rec = ref[np.isfinite(ref)], rec[np.isfinite(rec)]
    if ref.size == 0 or rec.size == 0:
        return float("nan")
    edges = quantile_bins(ref, bins)
    n_bins = len(edges) + 1
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=n_bins)
    rec_counts = np.bincount(np.searchsorted(edges, rec, side="right"), minlength=n_bins)
    return psi_from_counts(ref_counts, rec_counts)


def ks_test(reference: np.ndarray, recent: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (scipy); NaNs dropped, NaN if a side is empty."""
    ref = np.asarray(reference, dtype=float)
    rec = np.asarray(recent, dtype=float)
    ref, rec = ref[np.isfinite(ref)], rec[np.isfinite(rec)]
    if ref.size == 0 or rec.size == 0:
        return float("nan"), float("nan")
    # The exact distribution is only practical (and only attempted by scipy without a warning) for
    # small samples; the asymptotic one is accurate long before the sizes compared here.
    method = "exact" if ref.size * rec.size <= 10_000 else "asymp"
    with warnings.catch_warnings():
        # With many ties the exact method may give up and fall back to asymp itself: that is fine.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ks_2samp(ref, rec, method=method)
    return float(res.statistic), float(res.pvalue)


def windows(
    data: Dataset, reference_days: int, recent_days: int
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """``(reference_start, recent_start, end)``: the reference window ends the day before ``recent_start``.

    Raises:
        ValueError: If the sales history is shorter than both windows together.
    """
    end = data.end_date
    recent_start = end - pd.Timedelta(days=recent_days - 1)
    reference_start = recent_start - pd.Timedelta(days=reference_days)
    if reference_start < data.start_date:
        have = int((end - data.start_date).days) + 1
        raise ValueError(
            f"The sales history has {have} days but reference_days={reference_days} + recent_days="
            f"{recent_days} need {reference_days + recent_days}. Shorten the windows or load more history."
        )
    return reference_start, recent_start, end


def segment_labels(data: Dataset, store: ResultStore, run: RunInfo | None) -> pd.DataFrame:
    """``sku, channel, segment`` (``ABC-XYZ``) from the run's published segments, else computed now."""
    seg = store.get_segments(run.id) if run is not None else pd.DataFrame()
    if seg.empty or not {"abc", "xyz"} <= set(seg.columns):
        seg = segment(data)
    return labels_from_segments(seg)


def _with_segments(frame: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    out = frame.merge(labels, on=KEY, how="left")
    out["segment"] = out["segment"].fillna("new")
    return out


def _feature_sample(data: Dataset, start: pd.Timestamp, max_series: int, seed: int) -> Dataset:
    """The sales of at most ``max_series`` series drawn at random, from ``start`` on.

    Feature distributions are compared, not series, so a large random sample of series measures them
    as well as all of them; the history kept covers the longest look-back of the features.
    """
    sales = data.sales[data.sales["date"] >= start]
    keys = data.series()
    if len(keys) > max_series:
        rng = np.random.default_rng(seed)
        keep = keys.iloc[np.sort(rng.choice(len(keys), size=max_series, replace=False))]
        index = pd.MultiIndex.from_frame(keep)
        sales = sales[pd.MultiIndex.from_frame(sales[KEY]).isin(index)]
    return replace(data, sales=sales.reset_index(drop=True), warnings=[])


def _feature_frame(data: Dataset, ref: pd.DatetimeIndex, rec: pd.DatetimeIndex, max_rows: int,
                   seed: int) -> pd.DataFrame:
    """Demand features of sampled (series, day) cells of both windows, plus the day's own price."""
    specs = (Lags(lags=(28, 35)), RollingOnLag(windows=(7, 28)), EWM(), Intermittency())
    builder = FeatureBuilder(specs, min_lag=28).fit(data)
    rng = np.random.default_rng(seed)
    parts = []
    for name, dates in (("reference", ref), ("recent", rec)):
        frame = builder.transform(data, dates, observed_only=True, max_rows=max_rows // 2, rng=rng)
        frame = frame.drop(columns=["series_age"], errors="ignore").rename(columns={"target": "demand"})
        parts.append(frame.assign(window=name))
    out = pd.concat(parts, ignore_index=True)
    if "price" in data.sales:
        # The raw price, not the builder's relative price: a list-price change is input drift too.
        prices = data.sales.loc[data.sales["date"].isin(ref.union(rec)), [*KEY, "date", "price"]]
        out = out.merge(prices, on=[*KEY, "date"], how="left")
    return out


def input_drift(features: pd.DataFrame, bins: int = 10, min_rows: int = 50) -> pd.DataFrame:
    """PSI and KS of every numeric feature, for all series and inside each segment.

    Args:
        features: Rows with ``window`` (``reference``/``recent``), ``segment`` and feature columns.
        bins: Quantile bins of the PSI.
        min_rows: Fewest rows per side to score a segment.
    """
    names = [c for c in features.columns
             if c not in (*KEY, "date", "window", "segment") and pd.api.types.is_numeric_dtype(features[c])]
    is_ref = (features["window"] == "reference").to_numpy()
    groups = {ALL: np.ones(len(features), dtype=bool)}
    for seg, idx in features.groupby("segment", sort=True).indices.items():
        mask = np.zeros(len(features), dtype=bool)
        mask[idx] = True
        groups[str(seg)] = mask
    rows = []
    for name in names:
        values = features[name].to_numpy(dtype=float)
        for seg, mask in groups.items():
            ref, rec = values[mask & is_ref], values[mask & ~is_ref]
            n_ref, n_rec = int(np.isfinite(ref).sum()), int(np.isfinite(rec).sum())
            if seg != ALL and min(n_ref, n_rec) < min_rows:
                continue
            ks_stat, ks_p = ks_test(ref, rec)
            rows.append({"feature": name, "segment": seg, "psi": psi(ref, rec, bins), "ks_stat": ks_stat,
                         "ks_pvalue": ks_p, "n_reference": n_ref, "n_recent": n_rec})
    return pd.DataFrame(rows, columns=["feature", "segment", "psi", "ks_stat", "ks_pvalue", "n_reference",
                                       "n_recent"])


def _paired_p(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b) & (a != b)
    if ok.sum() < 5:
        return float("nan")
    return float(stats.wilcoxon(a[ok], b[ok]).pvalue)


def demand_drift(data: Dataset, labels: pd.DataFrame, reference_start: pd.Timestamp,
                 recent_start: pd.Timestamp) -> pd.DataFrame:
    """Level and variability of daily demand per segment, reference window against recent window.

    Per series: mean and CV of its known (uncensored) daily demand in each window. Per segment:
    ``level_ratio`` = recent / reference mean daily demand summed over series, ``cv_ratio`` = ratio of
    the median series CVs, and paired Wilcoxon p-values over the series for each.
    """
    matrix = demand_matrix(data, since=reference_start)
    lo = max(matrix.column(reference_start), 0)
    mid = matrix.column(recent_start)
    ref, rec = matrix.values[:, lo:mid].astype(float), matrix.values[:, mid:].astype(float)
    # A window with no known day (a new or long-stocked-out series) is expected: NaN, not a warning.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m_ref, m_rec = np.nanmean(ref, axis=1), np.nanmean(rec, axis=1)
        cv_ref = np.nanstd(ref, axis=1) / m_ref
        cv_rec = np.nanstd(rec, axis=1) / m_rec
    per = _with_segments(matrix.keys.assign(m_ref=m_ref, m_rec=m_rec, cv_ref=cv_ref, cv_rec=cv_rec), labels)
    rows = []
    for seg, part in [(ALL, per), *per.groupby("segment", sort=True)]:
        a, b = part["m_ref"].to_numpy(), part["m_rec"].to_numpy()
        ca, cb = part["cv_ref"].to_numpy(), part["cv_rec"].to_numpy()
        both = np.isfinite(a) & np.isfinite(b)
        mean_ref, mean_rec = float(np.sum(a[both])), float(np.sum(b[both]))
        ok_cv = np.isfinite(ca) & np.isfinite(cb)
        med_ca = float(np.median(ca[ok_cv])) if ok_cv.any() else float("nan")
        med_cb = float(np.median(cb[ok_cv])) if ok_cv.any() else float("nan")
        rows.append({
            "segment": str(seg), "n_series": int(both.sum()),
            "mean_reference": mean_ref / max(int(both.sum()), 1),
            "mean_recent": mean_rec / max(int(both.sum()), 1),
            "level_ratio": mean_rec / mean_ref if mean_ref > 0 else float("nan"),
            "level_pvalue": _paired_p(a, b),
            "cv_reference": med_ca, "cv_recent": med_cb,
            "cv_ratio": med_cb / med_ca if med_ca > 0 else float("nan"),
            "cv_pvalue": _paired_p(ca, cb),
        })
    return pd.DataFrame(rows)


def verdict(result: DriftResult, n_series: int, th: DriftThresholds) -> tuple[str, list[str]]:
    """The verdict (OK, WATCH or ACT) and the reasons behind it, worst first."""
    act: list[str] = []
    watch: list[str] = []
    # A PSI over its threshold counts only when KS also rules out sampling noise: small segments have
    # PSIs of 0.1-0.2 from noise alone (about bins x (1/n_ref + 1/n_recent)).
    drift = result.input_drift
    drift = drift[drift["ks_pvalue"] < th.p_value]
    overall = drift[drift["segment"] == ALL].sort_values("psi", ascending=False)
    for feat, value in zip(overall["feature"].astype(str), overall["psi"].astype(float), strict=True):
        if value >= th.psi_act:
            act.append(f"Feature '{feat}' shifted (PSI {value:.2f} >= {th.psi_act}).")
        elif value >= th.psi_watch:
            watch.append(f"Feature '{feat}' moved (PSI {value:.2f} >= {th.psi_watch}).")
    seg_rows = drift[(drift["segment"] != ALL) & (drift["psi"] >= th.segment_psi_act)]
    if len(seg_rows):
        worst = seg_rows.sort_values("psi").iloc[-1]
        watch.append(f"{len(seg_rows)} feature x segment cells have PSI >= {th.segment_psi_act} "
                     f"(worst '{worst['feature']}' in {worst['segment']}: {float(worst['psi']):.2f}).")
    for rec in result.demand_drift.to_dict("records"):
        seg, ratio, p_level = str(rec["segment"]), float(rec["level_ratio"]), float(rec["level_pvalue"])
        cv_ratio, p_cv = float(rec["cv_ratio"]), float(rec["cv_pvalue"])
        level = abs(ratio - 1.0) if np.isfinite(ratio) else 0.0
        significant = np.isfinite(p_level) and p_level < th.p_value
        change = f"Demand level of {seg} changed by {ratio - 1:+.0%} (p={p_level:.1g})."
        if significant and level >= th.level_act and (seg.startswith("A") or seg == ALL):
            act.append(change)
        elif significant and level >= th.level_watch:
            watch.append(change)
        cv_change = abs(cv_ratio - 1.0) if np.isfinite(cv_ratio) else 0.0
        if np.isfinite(p_cv) and p_cv < th.p_value and cv_change >= th.cv_watch:
            watch.append(f"Demand variability (median CV) of {seg} changed by {cv_ratio - 1:+.0%} "
                         f"(p={p_cv:.1g}).")
    fd = result.forecast_drift
    if len(fd):
        total = fd[fd["segment"] == ALL]
        if len(total) and total["share_moved"].iloc[0] >= th.moved_share_watch:
            watch.append(f"{total['share_moved'].iloc[0]:.0%} of series' forecasts moved by more than "
                         f"{th.moved_change:.0%} since the previous run.")
    acc = result.accuracy
    if len(acc) and "coverage_95" in acc:
        last = acc[acc["segment"] == ALL].sort_values(["week", "run_id"]).tail(1)
        if len(last) and np.isfinite(last["coverage_95"].iloc[0]):
            cov = float(last["coverage_95"].iloc[0])
            week = pd.Timestamp(last["week"].iloc[0]).date()
            if 0.95 - cov >= th.coverage_gap_act:
                act.append(f"Realized 95% interval coverage fell to {cov:.0%} in the week of {week}.")
            elif 0.95 - cov >= th.coverage_gap_watch:
                watch.append(f"Realized 95% interval coverage is {cov:.0%} in the week of {week}.")
    if n_series and len(result.volatility) / n_series >= th.volatility_share_watch:
        watch.append(f"{len(result.volatility)} series ({len(result.volatility) / n_series:.1%}) changed "
                     "their volatility inside the windows.")
    if act:
        return "ACT", act + watch
    if watch:
        return "WATCH", watch
    return "OK", ["No feature, demand, forecast or accuracy drift beyond the thresholds."]


def compute_drift(
    data: Dataset,
    store: ResultStore,
    *,
    reference_days: int = 91,
    recent_days: int = 28,
    run_id: int | None = None,
    bins: int = 10,
    days_per_window: int = 7,
    max_feature_rows: int = 300_000,
    max_feature_series: int = 5_000,
    volatility: bool = True,
    thresholds: DriftThresholds | None = None,
    seed: int = 0,
) -> DriftResult:
    """Measure input, demand, forecast and accuracy drift and give a verdict.

    Args:
        data: Validated tables up to today.
        store: The result store: segments and forecasts of published runs.
        reference_days: Days of the reference window, just before the recent window.
        recent_days: Days of the recent window, ending on the last sales date.
        run_id: The run the report is for (its segments and forecasts); None takes the served run.
            Without any published run, segments are computed from ``data`` and only input and demand
            drift are measured.
        bins: Quantile bins of the PSI.
        days_per_window: Days sampled evenly in each window for the feature comparison.
        max_feature_rows: Most feature rows built (half per window), sampled with ``seed``.
        max_feature_series: Most series whose features are built, sampled with ``seed``.
        volatility: Also scan for volatility shifts (slowest part on large catalogues).
        thresholds: Where findings turn the verdict; defaults to :class:`DriftThresholds`.
        seed: Seed of the feature-row sample.

    Returns:
        The tables and the summary with the verdict.

    Raises:
        ValueError: If a parameter is out of range or the history is shorter than the two windows.
        NotFoundError: If ``run_id`` does not exist.
    """
    check_params("compute_drift", _CHECKS, reference_days=reference_days, recent_days=recent_days, bins=bins,
                 days_per_window=days_per_window, max_feature_rows=max_feature_rows,
                 max_feature_series=max_feature_series)
    if not is_whole(seed, 0):
        raise ValueError(f"The 'seed' of compute_drift must be a whole number >= 0. Got {seed!r}.")
    th = thresholds or DriftThresholds()
    ref_start, rec_start, end = windows(data, reference_days, recent_days)
    clock = time.perf_counter()

    def stage(name: str) -> None:
        log.info("drift: %s done (%.1f s)", name, time.perf_counter() - clock)

    run = store.get_run(run_id) if run_id is not None else store.latest_run()
    labels = segment_labels(data, store, run)
    stage("segments")
    ref_days = pd.DatetimeIndex(np.unique(pd.date_range(ref_start, rec_start - pd.Timedelta(days=1))[
        np.linspace(0, reference_days - 1, min(days_per_window, reference_days)).round().astype(int)]))
    rec_days = pd.DatetimeIndex(np.unique(pd.date_range(rec_start, end)[
        np.linspace(0, recent_days - 1, min(days_per_window, recent_days)).round().astype(int)]))
    sample = _feature_sample(data, ref_start - pd.Timedelta(days=FEATURE_HISTORY_DAYS), max_feature_series,
                             int(seed))
    features = _with_segments(_feature_frame(sample, ref_days, rec_days, max_feature_rows, int(seed)), labels)
    inputs = input_drift(features, bins=bins, min_rows=th.min_rows)
    stage("input drift")
    demand = demand_drift(data, labels, ref_start, rec_start)
    stage("demand drift")
    fdrift, movers, previous = forecast_drift(store, run, labels, moved_change=th.moved_change)
    stage("forecast drift")
    accuracy = realized_accuracy(data, store, labels, upto=run)
    stage("realized accuracy")
    shifts = pd.DataFrame(columns=["sku", "channel", "changed_at", "cv_before", "cv_after", "p_value"])
    if volatility:
        # Half a year before the windows is enough history to place a change inside them.
        recent = data.sales[data.sales["date"] >= ref_start - pd.Timedelta(days=VOLATILITY_HISTORY_DAYS)]
        found = detect_volatility_shifts(replace(data, sales=recent.reset_index(drop=True), warnings=[]))
        shifts = _with_segments(found[found["changed_at"] >= ref_start], labels).reset_index(drop=True)
        stage("volatility shifts")
    result = DriftResult(inputs, demand, fdrift, movers, accuracy, shifts)
    n_series = len(data.series())
    word, reasons = verdict(result, n_series, th)
    result.summary = {
        "verdict": word,
        "reasons": reasons,
        "run_id": run.id if run is not None else None,
        "previous_run_id": previous,
        "reference_window": [str(ref_start.date()), str((rec_start - pd.Timedelta(days=1)).date())],
        "recent_window": [str(rec_start.date()), str(end.date())],
        "n_series": n_series,
        "n_segments": int(labels["segment"].nunique()),
        "max_feature_psi": float(inputs.loc[inputs["segment"] == ALL, "psi"].max()) if len(inputs) else None,
        "n_volatility_shifts": len(shifts),
        "n_scored_runs": int(accuracy["run_id"].nunique()) if len(accuracy) else 0,
        "seconds": round(time.perf_counter() - clock, 2),
    }
    log.info("drift: verdict %s (%d reasons)", word, len(reasons))
    return result
