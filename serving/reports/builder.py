"""Build, save and find the HTML drift report of a run.

The report is one self-contained HTML file: styles inline, charts as inline SVG, no script and no
external URL, so it opens offline, from MLflow's artifact view or as a mail attachment.

Layering: the training pipeline sits below ``serving`` and cannot import this module; the caller
that runs a training (the ``train`` command or the scheduler) calls :func:`run_drift` after it.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jinja2
import pandas as pd

from features.dataset import Dataset
from forecasting.evaluation.drift import DriftResult, compute_drift
from forecasting.persistence import DriftReport, ResultStore, RunInfo
from serving.reports import charts

log = logging.getLogger(__name__)

MAX_TABLE_ROWS = 50


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates, autoescaping everything."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("serving.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = format_number
    return env


def format_number(value: Any, digits: int = 3) -> str:
    """A figure for a table cell: ``-`` for missing, dates as dates, floats with ``digits`` significant."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, pd.Timestamp | datetime):
        return str(pd.Timestamp(value).date())
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"
    return str(value)


def _records(frame: pd.DataFrame, limit: int = MAX_TABLE_ROWS) -> dict[str, Any]:
    return {"columns": [str(c) for c in frame.columns], "rows": frame.head(limit).to_numpy().tolist(),
            "total": len(frame)}


def build_drift_report(result: DriftResult, run_info: RunInfo | None) -> str:
    """Render a drift result as one self-contained HTML page.

    Args:
        result: What :func:`forecasting.evaluation.drift.compute_drift` found.
        run_info: The run the report is for (its id, model and dates in the header), or None.

    Returns:
        The HTML text: verdict and reasons first, then the charts and tables.
    """
    s = result.summary
    inputs = result.input_drift.sort_values("psi", ascending=False, na_position="last")
    overall = inputs[inputs["segment"] == "all"]
    volatility = result.volatility.sort_values("p_value") if len(result.volatility) else result.volatility
    accuracy = result.accuracy
    accuracy_all = accuracy[accuracy["segment"] == "all"] if len(accuracy) else accuracy
    context = {
        "summary": s,
        "verdict": result.verdict,
        "reasons": list(s.get("reasons", [])),
        "run": run_info,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "charts": {
            "coverage": charts.coverage_chart(result.accuracy),
            "spl": charts.spl_chart(result.accuracy),
            "psi": charts.psi_heatmap(result.input_drift),
            "demand": charts.demand_chart(result.demand_drift),
            "volatility": charts.volatility_chart(result.volatility),
        },
        "tables": {
            "features": _records(overall),
            "segment_features": _records(inputs[inputs["segment"] != "all"], 30),
            "demand": _records(result.demand_drift),
            "forecast": _records(result.forecast_drift),
            "movers": _records(result.forecast_movers, 25),
            "accuracy": _records(accuracy_all),
            "volatility": _records(volatility),
        },
    }
    return environment().get_template("drift.html.j2").render(**context)


def run_drift(data: Dataset, store: ResultStore, run_id: int | None = None,
              **options: Any) -> tuple[int, str]:
    """Compute the drift of a run, build its report and save it in the store.

    Args:
        data: Validated tables up to today.
        store: The result store.
        run_id: The run the report is for; None takes the served run (or none before the first).
        **options: Passed to :func:`forecasting.evaluation.drift.compute_drift` (``reference_days`` ...).

    Returns:
        ``(report id, html)``.
    """
    result = compute_drift(data, store, run_id=run_id, **options)
    resolved = result.summary.get("run_id")
    run = store.get_run(int(resolved)) if resolved is not None else None
    html = build_drift_report(result, run)
    report_id = store.save_drift_report(run.id if run is not None else None, result.summary, html)
    log.info("Drift report %d saved (verdict %s, %.0f kB)", report_id, result.verdict, len(html) / 1024)
    return report_id, html


def find_drift_report(store: ResultStore, run_id: int | None = None) -> DriftReport | None:
    """The newest report of ``run_id``, or the newest report of all when None; None if there is none."""
    newest = store.get_drift_report()
    if run_id is None or newest is None or newest.run_id == run_id:
        return newest
    report_id = store.drift_report_id(run_id)
    return store.get_drift_report(report_id) if report_id is not None else None
