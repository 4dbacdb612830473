"""The work of each stage of the weekly job (the pipeline module only sequences and guards them)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import Dataset
from forecasting.evaluation.backtest import BacktestResult, backtest
from forecasting.evaluation.metrics import evaluate
from forecasting.inventory.change_cap import limit_changes
from forecasting.inventory.exceptions import (
    ExceptionThresholds,
    detect_exceptions,
    positions,
    run_out_from_paths,
)
from forecasting.inventory.leadtime import audit_lead_times
from forecasting.inventory.ltd_calibration import calibration_groups
from forecasting.inventory.ltd_feedback import score_published
from forecasting.inventory.policy import PolicyContext, compute_policies, lead_uniforms, prepare_context
from forecasting.inventory.purchase_orders import with_order_inputs
from forecasting.inventory.rules import Rules, load_rules
from forecasting.inventory.safety_stock import draw_lead_times, protection_totals
from forecasting.inventory.segmentation import segment
from forecasting.persistence import ResultStore
from forecasting.signals.segment_changes import apply_hysteresis, segment_changes
from forecasting.signals.spikes import detect_spikes
from forecasting.signals.volatility import detect_volatility_shifts
from models.base import Forecaster, SamplePaths
from models.registry import make_model
from training.bundle import Manifest, package_versions, pip_requirements, save_bundle
from training.options import TrainOptions
from training.registry import PRIMARY_METRIC, STORE_RUN_TAG, Decision, Registry, VersionInfo

log = logging.getLogger(__name__)

# Lead-time demand is published as a quantile grid so the API can answer service-level overrides.
LTD_LEVELS: tuple[float, ...] = (
    0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99, 0.995, 0.999,
)


@dataclass
class Scores:
    """Backtest scores of the candidate (and of the champion's configuration on the same folds)."""

    result: BacktestResult
    metrics: dict[str, float]
    champion_wspl: float | None
    by_segment: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class Outputs:
    """Everything a run publishes, plus the signals that become alerts."""

    forecasts: pd.DataFrame
    policies: pd.DataFrame
    segments: pd.DataFrame
    supplier_audit: list[dict[str, Any]]
    spikes: pd.DataFrame
    shifts: pd.DataFrame
    segment_alerts: list[dict[str, Any]]
    slippage_alerts: list[dict[str, Any]]
    exceptions: pd.DataFrame = field(default_factory=pd.DataFrame)
    operating_kpis: dict[str, Any] = field(default_factory=dict)
    ltd_service: pd.DataFrame = field(default_factory=pd.DataFrame)

    def alerts(self, run_id: int, version: int, decision: Decision) -> list[dict[str, Any]]:
        """Every alert of this run."""
        from forecasting.signals.alerts import make_alert, spike_alerts, volatility_alerts

        out = [*spike_alerts(self.spikes), *volatility_alerts(self.shifts), *self.segment_alerts,
               *self.slippage_alerts]
        if not decision.promote:
            out.append(make_alert(
                "model_not_promoted", "warning", None, None,
                {"run_id": run_id, "version": version, "reason": decision.reason,
                 "message": f"Model v{version} was not promoted: {decision.reason}"},
                dedup_key=f"model_not_promoted|{run_id}",
            ))
        elif not self.exceptions.empty:  # the exceptions of the policies about to be served
            from forecasting.signals.exception_alerts import exception_alerts

            as_of = self.segments["as_of"].max() if "as_of" in self.segments else pd.Timestamp.now()
            out.extend(exception_alerts(self.exceptions, run_id, as_of))
        return out


def _metric_row(frame: pd.DataFrame, name: str) -> dict[str, float]:
    row = frame.loc[frame["name"] == name] if "name" in frame else frame
    if row.empty:
        return {}
    values = row.iloc[0].to_dict()
    return {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float | np.floating) and k != "fold"
    }


def backtest_stage(
    data: Dataset, options: TrainOptions, registry: Registry, n_jobs: int, seed: int
) -> Scores:
    """Backtest the candidate and, when it differs, the champion's configuration on the same folds."""
    models: dict[str, Forecaster] = {"candidate": make_model(options.model, **options.model_params)}
    champion = registry.champion()
    champion_spec = _champion_spec(champion)
    same = champion_spec == {"model": options.model, "model_params": options.model_params}
    if champion_spec is not None and not same:
        models["champion"] = make_model(champion_spec["model"], **champion_spec["model_params"])
    result = backtest(
        models, data, horizon=options.backtest_horizon, folds=options.folds, quantiles=options.quantiles,
        n_jobs=n_jobs, random_state=seed, n_paths=200, progress=False,
    )
    cand = _metric_row(result.metrics, "candidate")
    metrics = {f"backtest_{k}": v for k, v in cand.items()}
    if champion_spec is None:
        champion_wspl = None
    elif same:
        champion_wspl = metrics.get(PRIMARY_METRIC)
    else:
        champion_wspl = _metric_row(result.metrics, "champion").get("wspl")
    by_segment = _segment_scores(data, result)
    for _, row in by_segment.iterrows():
        metrics[f"backtest_wspl_{row['pattern']}"] = float(row["wspl"])
    return Scores(result, metrics, champion_wspl, by_segment)


def _champion_spec(champion: VersionInfo | None) -> dict[str, Any] | None:
    if champion is None:
        return None
    import mlflow

    params = mlflow.get_run(champion.run_id).data.params if champion.run_id else {}
    if "model" not in params:
        return None
    import ast

    model_params = ast.literal_eval(params.get("model_params", "{}") or "{}")
    return {"model": params["model"], "model_params": model_params}


def _segment_scores(data: Dataset, result: BacktestResult) -> pd.DataFrame:
    """WSPL of the candidate per demand pattern (smooth / erratic / intermittent / lumpy)."""
    fc = result.forecasts
    if "name" in fc:
        fc = fc[fc["name"] == "candidate"]
    if fc.empty:
        return pd.DataFrame()
    seg = segment(data)[["sku", "channel", "pattern"]]
    fc = fc.merge(seg, on=["sku", "channel"], how="left")
    history = data.truncate(fc["cutoff"].min()).sales if "cutoff" in fc else data.sales
    qcols = [c for c in fc.columns if c[:2] == "0." and c.replace(".", "").isdigit()]
    quantiles = tuple(float(c) for c in qcols)
    try:
        return evaluate(fc, result.actuals, history, quantiles=quantiles, group_by="pattern")
    except (KeyError, ValueError) as exc:  # a score per segment is a report, not a reason to fail
        log.warning("Per-segment scores skipped: %s", exc)
        return pd.DataFrame()


def plan_stage(data: Dataset, model: Forecaster, options: TrainOptions, store: ResultStore,
               seed: int, thresholds: ExceptionThresholds | None = None) -> Outputs:
    """Forecasts, sample paths, audit, stabilised segments, spikes, shifts, policies, changes and the
    planner's exceptions (run-out risk from the paths, excess stock and orders, policy health)."""
    forecasts = model.predict(options.horizon, options.quantiles)
    paths = model.sample_paths(options.horizon, options.n_paths, seed)
    rules = load_rules(options.rules_path)
    audit = audit_lead_times(data, data.end_date, rules.lead_time)
    current = segment(data, data.end_date, rules.segmentation, audit)
    latest = store.latest_run()
    previous = store.get_segments(latest.id) if latest is not None else None
    stable = apply_hysteresis(previous, current)
    spikes = detect_spikes(data, forecasts)
    shifts = detect_volatility_shifts(data)
    ctx = prepare_context(data, paths, rules, data.end_date, spikes, audit, stable)
    # Closed loop: earlier published plans scored on the demand that followed set the planning levels.
    calibration, ltd_service = score_published(_published_history(store), data, rules.review_period_days,
                                               seed=seed)
    targets = ctx.assigned["service_level"].to_numpy(dtype=float)
    groups = calibration_groups(ctx.assigned["pattern"], np.array([d.mean for d in ctx.lead_distributions]))
    levels = calibration.levels(groups, targets)
    plan_ctx = replace(ctx, assigned=ctx.assigned.assign(service_level=levels))
    policies = compute_policies(data, paths, rules, data.end_date, spike_windows=spikes,
                                random_state=seed, context=plan_ctx)
    policies = _with_planned_levels(policies, targets, levels, groups)
    policies = with_order_inputs(_with_ltd_grid(policies, paths, rules, ctx, seed), data)
    # Adjust in small steps: the reorder point moves at most max_change_ratio-fold since the served run.
    last = store.get_policies(latest.id) if latest is not None else None
    policies = limit_changes(policies, last, rules.max_change_ratio, shifts=shifts,
                             moq=policies["moq"].to_numpy() if "moq" in policies else 0.0,
                             pack_size=policies["pack_size"].to_numpy() if "pack_size" in policies else 1.0)
    seg_out = stable.merge(policies[["sku", "channel", "policy"]], on=["sku", "channel"], how="left")
    seg_out["as_of"] = data.end_date
    changes = segment_changes(previous, seg_out, as_of=data.end_date)
    return Outputs(
        forecasts=forecasts,
        policies=policies,
        segments=seg_out,
        supplier_audit=_audit_rows(audit),
        spikes=spikes,
        shifts=shifts,
        segment_alerts=changes,
        slippage_alerts=_slippage(data, policies),
        exceptions=_exceptions(data, paths, policies, ctx, spikes, seed, thresholds),
        ltd_service=ltd_service,
    )


def _published_history(store: ResultStore, limit: int = 12) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
    """``(planning date, policies)`` of the newest ``limit`` published runs."""
    out = []
    for run in store.list_runs(limit=4 * limit):
        if run.status != "published":
            continue
        segments = store.get_segments(run.id)
        if segments.empty or "as_of" not in segments:
            continue
        out.append((pd.Timestamp(segments["as_of"].max()), store.get_policies(run.id)))
        if len(out) >= limit:
            break
    return out


def _with_planned_levels(policies: pd.DataFrame, targets: np.ndarray, levels: np.ndarray,
                         groups: np.ndarray) -> pd.DataFrame:
    """The class target stays the published ``service_level``; the level planned at is ``planned_level``."""
    out = policies.copy()
    out["service_level"] = targets
    out["planned_level"] = levels
    moved = np.abs(levels - targets) > 0.005
    out["reasons"] = [
        [*rs, f"planned at the {lv:.3f} quantile for the {t:.2f} target: realized lead-time demand of "
              f"{g} series fell under earlier plans' quantiles at a different rate"] if m else list(rs)
        for rs, lv, t, g, m in zip(out["reasons"], levels, targets, groups, moved, strict=True)
    ]
    return out


def kpis_stage(data: Dataset, policies: pd.DataFrame, holding_rate: float) -> dict[str, Any]:
    """Realized KPIs of the last four quarters, run after the plan stage so the sample paths are freed
    (its daily stock grid holds series x 364 days); a failure costs only the KPIs, never the run."""
    from forecasting.inventory.operating_kpis import kpi_records, operating_kpis

    try:
        lead = policies[["sku", "lead_time_mean"]]
        kpis = operating_kpis(data, policies[["sku", "channel", "policy", "abc"]], data.end_date,
                              holding_rate=holding_rate, lead_times=lead)
    except Exception:
        log.exception("Realized KPIs skipped")
        return {}
    return kpi_records(kpis)


def _exceptions(data: Dataset, paths: SamplePaths, policies: pd.DataFrame, ctx: PolicyContext,
                spikes: pd.DataFrame, seed: int, thresholds: ExceptionThresholds | None) -> pd.DataFrame:
    """Exceptions of the new policies; the run-out risk uses the policies' own lead-time draws."""
    n_paths = paths.values.shape[1]
    lead = draw_lead_times(ctx.lead_distributions, lead_uniforms(ctx.assigned["sku"], n_paths, seed))
    prob = run_out_from_paths(paths.values, lead, positions(policies))
    return detect_exceptions(policies, data.end_date, thresholds=thresholds, run_out_probability=prob,
                             sales=data.sales, spikes=spikes, promotions=data.promotions)


def _with_ltd_grid(policies: pd.DataFrame, paths: SamplePaths, rules: Rules, ctx: PolicyContext,
                   seed: int) -> pd.DataFrame:
    """Attach the lead-time(+review) demand quantile grid, for the API's service-level overrides.

    The lead-time draws use the same uniforms as :func:`compute_policies`, so the grid is the very
    distribution the published reorder point was read from.
    """
    n_paths = paths.values.shape[1]
    lead = draw_lead_times(ctx.lead_distributions, lead_uniforms(ctx.assigned["sku"], n_paths, seed))
    grids, review = [], []
    for lo in range(0, len(lead), 2000):  # chunks bound the (series x paths x days) cumulative sums
        d_lr, d_r = protection_totals(paths.values[lo : lo + 2000], lead[lo : lo + 2000],
                                      rules.review_period_days)
        grids.append(np.quantile(d_lr, LTD_LEVELS, axis=1).T)
        review.append(d_r.mean(axis=1))
    grid = np.vstack(grids)
    out = policies.copy()
    out["ltd_levels"] = [list(LTD_LEVELS)] * len(out)
    out["ltd_quantiles"] = [[round(float(v), 4) for v in row] for row in grid]
    out["daily_mean"] = paths.values.mean(axis=(1, 2))
    out["review_demand"] = np.concatenate(review)
    return out


def _audit_rows(audit: Any) -> list[dict[str, Any]]:
    table = getattr(audit, "suppliers", None)
    if not isinstance(table, pd.DataFrame):
        return []
    return [
        {str(k): v if isinstance(v, list | dict) or not pd.isna(v) else None for k, v in row.items()}
        for row in table.to_dict("records")
    ]


def _slippage(data: Dataset, policies: pd.DataFrame) -> list[dict[str, Any]]:
    from forecasting.signals.slippage import detect_slippage

    if data.receipts is None or data.receipts.empty:
        return []
    return detect_slippage(
        data.receipts, skus=data.skus, segments=policies[["sku", "channel", "policy"]],
        suppliers=data.suppliers, as_of=data.end_date,
    )


def register_stage(
    registry: Registry,
    model: Forecaster,
    options: TrainOptions,
    data: Dataset,
    data_hash: str,
    scores: Scores,
    artifacts: dict[str, Path],
    workdir: Path,
    forecasts: pd.DataFrame,
    store_run_id: int,
) -> VersionInfo:
    """Save the bundle and log the run, its artifacts and the pyfunc model to MLflow.

    ``forecasts`` is the plan stage's forecast, reused for the signature's output example;
    ``store_run_id`` (the result-store run) is tagged on the version.
    """
    features = list(model.feature_names_ or [])
    manifest = Manifest(
        model=options.model,
        params={k: repr(v) for k, v in model.get_params(deep=False).items()},
        horizon=options.horizon,
        quantiles=list(options.quantiles),
        features=list(features),
        data_start=f"{data.start_date:%Y-%m-%d}",
        data_end=f"{data.end_date:%Y-%m-%d}",
        n_series=len(data.series()),
        data_hash=data_hash,
        packages=package_versions(),
    )
    bundle = save_bundle(model, manifest, workdir / "bundle")
    example = data.series().head(2)
    output = forecasts.merge(example, on=["sku", "channel"])
    output = output.assign(date=output["date"].dt.strftime("%Y-%m-%d"))
    params = {
        "model": options.model,
        "model_params": repr(options.model_params),
        "horizon": options.horizon,
        "folds": options.folds,
        "backtest_horizon": options.backtest_horizon,
        "quantiles": ",".join(map(str, options.quantiles)),
        "n_paths": options.n_paths,
        "features": ",".join(features) or "-",
        "data_start": manifest.data_start,
        "data_end": manifest.data_end,
        "n_series": manifest.n_series,
        "data_hash": data_hash[:16],
    }
    return registry.log_candidate(
        bundle,
        version_tags={STORE_RUN_TAG: str(store_run_id)},
        params=params,
        metrics=scores.metrics,
        artifacts={**artifacts, "manifest": bundle / "manifest.json"},
        input_example=example,
        output_example=output,
        pip_requirements=pip_requirements(),
    )


def decide_stage(registry: Registry, scores: Scores, options: TrainOptions) -> Decision:
    """Champion / challenger decision on the same backtest folds."""
    return registry.decide(scores.metrics, champion_wspl=scores.champion_wspl, tolerance=options.tolerance)
