"""Liveness, readiness, Prometheus metrics and the admin reload.

``/health``, ``/ready`` and ``/metrics`` need no API key: orchestrators and Prometheus call them, and
they reveal only liveness, the served run id and counters. ``/v1/admin/reload`` needs an admin key.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from serving.api.deps import AdminKey, StateDep, StoreDep
from serving.api.metrics import CONTENT_TYPE, ApiMetrics
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import ReadyResponse, ReloadResponse

router = api_router(tags=["operations"])


@router.get("/health", summary="Liveness (no key)")
async def health() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "alive"}


@router.get("/ready", response_model=ReadyResponse, summary="Readiness (no key)",
            responses={503: {"model": ReadyResponse, "description": "Store unreachable or no run loaded."}})
async def ready(state: StateDep, store: StoreDep) -> Response:
    """Ready when the store answers AND a published run is loaded."""
    reachable = await run_in_threadpool(store.ping)
    served = state.current
    ok = reachable and served is not None
    if ok:
        detail = "serving"
    elif not reachable:
        detail = "The result store does not answer. Fix: check BLENDCAST_DATABASE_URL and the database."
    else:
        detail = "No published run is loaded yet. Fix: run the weekly pipeline (`blendcast train`)."
        if state.last_error:
            detail += f" Last load error: {state.last_error}"
    body = {"ready": ok, "store": reachable, "run_id": served.run_id if served else None, "detail": detail}
    return json_response(body, 200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics (no key)", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """Requests by route and status, latency histogram, served run id and model version."""
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(api_metrics.exposition(), media_type=CONTENT_TYPE)


@router.post("/v1/admin/reload", response_model=ReloadResponse, responses=ERRORS,
             summary="Load the latest published run now (admin key)")
async def reload(_key: AdminKey, state: StateDep) -> Response:
    """Check the store and swap in the latest published run if it is new; requests keep being served."""
    previous = state.current.run_id if state.current else None
    swapped = await run_in_threadpool(state.refresh)
    current = state.current.run_id if state.current else None
    return json_response({"swapped": swapped, "run_id": current, "previous_run_id": previous,
                          "error": state.last_error})
