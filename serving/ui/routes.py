"""Routes of the analyst pages and the drift reports.

Pages are plain ``def`` endpoints: FastAPI runs them in its thread pool, so the blocking store reads
never stall the event loop. Every value is escaped by Jinja2's autoescape; charts are SVG built here.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from forecasting.persistence import NotFoundError, ResultStore, RunInfo
from serving.dependencies import StoreDep
from serving.reports.builder import find_drift_report
from serving.reports.builder import format_number as _num
from serving.ui import data
from serving.ui.access import page_access
from serving.ui.fan import fan_chart
from serving.ui.labels import policy_facts

_HERE = FilePath(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")
templates.env.autoescape = True
templates.env.filters["num"] = _num

# Every page and report needs a read key (or BLENDCAST_PUBLIC_PAGES=true): see serving/ui/access.py.
ui_router = APIRouter(prefix="/ui", tags=["analyst pages"], include_in_schema=False,
                      dependencies=[Depends(page_access)])
reports_router = APIRouter(prefix="/reports", tags=["reports"], include_in_schema=False,
                           dependencies=[Depends(page_access)])


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"active": name.split(".")[0], **context},
                                      status_code=status_code)


def _no_run(request: Request) -> HTMLResponse:
    return _page(request, "message.html.j2", 404, title="Nothing published yet",
                 message="No run has been published yet. Run `blendcast train` first.")


@ui_router.get("", response_class=HTMLResponse)
@ui_router.get("/", response_class=HTMLResponse)
def index(request: Request, store: StoreDep) -> HTMLResponse:
    """Overview: what to do today (orders due, open exceptions), policy mix, model, drift, SKU search."""
    from serving.workbench.orders import policy_frame
    from serving.workbench.today import EXCEPTION_TITLES, today

    run = store.latest_run()
    report = data.find_latest_summary(store)
    view = None
    if run is not None:
        served = getattr(getattr(request.app.state, "served", None), "current", None)
        policies = policy_frame(served) if served is not None and served.run_id == run.id else None
        view = today(store, run, policies)
    return _page(request, "index.html.j2", run=run, report=report, today=view, titles=EXCEPTION_TITLES)


@ui_router.get("/sku", response_class=HTMLResponse)
def sku_search(request: Request, store: StoreDep, q: str = "", channel: str | None = None) -> HTMLResponse:
    """Search SKUs; shows the fan chart of the chosen (or first) match."""
    run = store.latest_run()
    if run is None:
        return _no_run(request)
    matches = data.search(store, run, q)
    chosen = None
    if len(matches):
        pick = matches[matches["channel"] == channel] if channel else matches
        row = (pick if len(pick) else matches).iloc[0]
        chosen = _series_view(request, store, run, str(row["sku"]), str(row["channel"]))
    return _page(request, "sku.html.j2", run=run, q=q, matches=matches.to_dict("records"), chosen=chosen)


def _series_view(request: Request, store: ResultStore, run: RunInfo, sku: str, channel: str) -> dict | None:
    series = data.load_series(store, run, sku, channel)
    if series is None:
        return None
    history = data.series_history(request, sku, channel)
    policy = series.policy or {}
    reasons = policy.get("reasons")
    return {"sku": sku, "channel": channel, "chart": fan_chart(series.forecast, history, series.policy),
            "policy": policy_facts(policy),
            "reasons": [str(r) for r in reasons] if isinstance(reasons, list) else ([str(reasons)] if reasons
                                                                                   else []),
            "has_history": history is not None and len(history) > 0,
            "days": len(series.forecast)}


@ui_router.get("/matrix", response_class=HTMLResponse)
def matrix(request: Request, store: StoreDep) -> HTMLResponse:
    """The ABC x XYZ matrix with counts and the policy mix of each cell."""
    run = store.latest_run()
    if run is None:
        return _no_run(request)
    return _page(request, "matrix.html.j2", run=run, m=data.abc_xyz_matrix(store, run))


@ui_router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, store: StoreDep, type: str = "",
           since: Annotated[str, Query(description="ISO date")] = "") -> HTMLResponse:
    """The alerts feed, newest first, filtered by type and by a start date."""
    types = data.alert_types(store)
    try:
        start = data.parse_since(since)
    except ValueError as exc:
        return _page(request, "alerts.html.j2", 422, rows=[], types=types, type=type, since=since,
                     error=str(exc))
    frame = store.list_alerts(since=start, type=type or None, limit=500)
    rows = frame.to_dict("records")
    return _page(request, "alerts.html.j2", rows=rows, types=types, type=type, since=since, error=None)


@ui_router.get("/suppliers", response_class=HTMLResponse)
def suppliers(request: Request, store: StoreDep) -> HTMLResponse:
    """The supplier lead-time audit of the served run."""
    run = store.latest_run()
    if run is None:
        return _no_run(request)
    audit = run.metrics.get("supplier_audit") or []
    columns: list[str] = []
    for row in audit:
        columns.extend(k for k in row if k not in columns)
    return _page(request, "suppliers.html.j2", run=run, columns=columns, rows=audit)


@reports_router.get("/drift/latest", response_class=HTMLResponse)
def drift_latest(request: Request, store: StoreDep) -> HTMLResponse:
    """The newest drift report, as saved."""
    report = find_drift_report(store)
    if report is None:
        return _page(request, "message.html.j2", 404, title="No drift report yet",
                     message="No drift report has been saved. Run `blendcast drift --data DIR`.")
    return HTMLResponse(report.html)


@reports_router.get("/drift/{run_id}", response_class=HTMLResponse)
def drift_for_run(request: Request, store: StoreDep,
                  run_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Run id.")]) -> HTMLResponse:
    """The newest drift report of run ``run_id``."""
    try:
        store.get_run(run_id)
    except NotFoundError as exc:
        return _page(request, "message.html.j2", 404, title="No such run", message=str(exc))
    report = find_drift_report(store, run_id)
    if report is None:
        return _page(request, "message.html.j2", 404, title="No drift report for this run",
                     message=f"Run {run_id} has no drift report. Run `blendcast drift --data DIR`.")
    return HTMLResponse(report.html)
