"""The FastAPI application factory.

``create_app`` builds everything from :class:`Settings` and does no I/O; the lifespan loads the served
run (in a worker thread, so a slow store delays readiness, not liveness) and starts the poller that
swaps in newly published runs every ``Settings.api_poll_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from forecasting.infrastructure.settings import Settings, get_settings
from forecasting.persistence import ResultStore
from serving.api.access_log import ObserveRequests
from serving.api.auth import SECURITY_SCHEMES, KeyVerifier
from serving.api.docs import add_offline_docs
from serving.api.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    internal_error_handler,
    store_error_handler,
    validation_error_handler,
)
from serving.api.headers import HeaderSizeLimit
from serving.api.limits import BodySizeLimit
from serving.api.metrics import ApiMetrics
from serving.api.routes import (
    alerts,
    forecasts,
    health,
    kpis,
    models,
    purchase_orders,
    replenishment,
    scenarios,
    segments,
    suppliers,
)
from serving.api.schemas import HORIZON_CAP
from serving.api.state import ServedRun, ServedState
from serving.ui import register_pages

log = logging.getLogger(__name__)

DESCRIPTION = """\
Forecasts, order advice, segments, alerts and supplier reliability for the inventory management system.

Every `/v1` endpoint needs an API key (`blendcast api-key create --scope read|admin`) sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`: `read` for queries, `admin` for
`/v1/admin/*`. `/health`, `/ready` and `/metrics` are open. Answers come from the latest published
run, held in memory; each response names its `run_id`. Every request checks its key against the store,
so a revoked key is refused on the next request. The `/ui` pages and `/reports` need a read key too
(header, or the sign-in form at `/ui/login`, which keeps it in an HttpOnly cookie), unless the server
runs with `BLENDCAST_PUBLIC_PAGES=true`. Key headers over 8 KB are refused with 431.

Errors have one shape: `{"detail": "<what was wrong, expected, sent. Fix: ...>", "errors": [...]}`;
`errors` (422 only) lists each invalid field with `field`, `in`, `message`, `got` and `fix`. Request
bodies are strict JSON (RFC 8259: no NaN, Infinity or 1e400) and strictly typed (`false` is not 0).
A SKU or channel containing `/` is reached as is or percent-encoded (`/v1/forecasts/AB%2F12/web`).
"""


async def _poll(state: ServedState, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(state.refresh)
        except Exception:  # refresh logs its own errors; the poller must never die
            log.exception("run poller iteration failed")


def _cap_horizon(node: Any, top: int) -> None:
    """Replace the validation layer's horizon cap by the served run's horizon, everywhere in ``node``."""
    if isinstance(node, dict):
        if node.get("maximum") == HORIZON_CAP:
            node["maximum"] = top
        for value in node.values():
            _cap_horizon(value, top)
    elif isinstance(node, list):
        for value in node:
            _cap_horizon(value, top)


def _published_levels(schema: dict[str, Any], levels: list[float], names: list[str]) -> None:
    """The quantile levels a request may ask for: the served run's, as an enum and a query pattern."""
    one = "(" + "|".join(re.escape(n) for n in names) + ")"
    forecast_get = schema["paths"].get("/v1/forecasts/{sku}/{channel}", {}).get("get", {})
    for param in forecast_get.get("parameters", []):
        if param["name"] == "quantiles":
            param["schema"]["anyOf"][0]["pattern"] = rf"^\s*{one}(\s*,\s*{one})*\s*$"
    batch = schema.get("components", {}).get("schemas", {}).get("ForecastBatchRequest", {})
    quantiles = batch.get("properties", {}).get("quantiles", {})
    for option in quantiles.get("anyOf", []):
        if option.get("type") == "array":
            option["items"] = {**option["items"], "enum": levels}


def _service_levels(schema: dict[str, Any], served: ServedRun) -> None:
    """A service-level override must lie in the served run's lead-time-demand grid (else a 400)."""
    grids = [g for g in served.policies.columns.get("ltd_levels", []) if isinstance(g, list) and g]
    if not grids:
        return
    lo, hi = max(min(g) for g in grids), min(max(g) for g in grids)
    item = schema.get("components", {}).get("schemas", {}).get("ReplenishmentItem", {})
    for option in item.get("properties", {}).get("service_level", {}).get("anyOf", []):
        if option.get("type") == "number" and lo <= hi:
            option.pop("exclusiveMinimum", None)
            option.pop("exclusiveMaximum", None)
            option.update(minimum=float(lo), maximum=float(hi))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the API-key schemes, required on every ``/v1`` operation.

    ``horizon`` maxima are the served run's horizon (``BLENDCAST_HORIZON`` before a run is loaded), the
    quantile levels a request may name and the service-level overrides it may ask for are the served
    run's; the schema is rebuilt on every swap.
    """
    served = app.state.served.current
    top = served.max_horizon if served is not None else app.state.settings.horizon
    version = (top, served.run_id if served is not None else None)
    if app.openapi_schema is None or app.state.openapi_version != version:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in schema["paths"].items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}, {"apiKey": []}]
        _cap_horizon(schema, top)
        if served is not None:
            _published_levels(schema, list(served.levels), served.level_names)
            _service_levels(schema, served)
        app.openapi_schema = schema
        app.state.openapi_version = version
    return app.openapi_schema


def _attach_history(app: FastAPI, data_dir: Path) -> None:
    """Give the analyst pages the sales history of ``data_dir`` (a bad directory only loses the history)."""
    from features.readers import load_dataset
    from serving.ui.data import attach_sales

    try:
        attach_sales(app, load_dataset(data_dir).sales[["sku", "channel", "date", "units"]])
    except (ValueError, OSError) as exc:
        log.warning("No sales history for the pages: %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API.

    Args:
        settings: Configuration; None reads ``BLENDCAST_*`` from the environment.

    Returns:
        The application (serve it with ``uvicorn --factory serving.api.app:create_app``).
    """
    settings = settings or get_settings()
    if not logging.getLogger().handlers:
        # A worker process of `serve --workers N` starts without the CLI's logging set-up: the access
        # log and the store's warnings still need a handler.
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    store = ResultStore.from_settings(settings)
    api_metrics = ApiMetrics()

    def record_swap(served: ServedRun) -> None:
        api_metrics.served(served.run_id, served.run.model_version, served.nbytes, len(served.keys))

    state = ServedState(store, on_swap=record_swap)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(state.refresh)
        if settings.data_dir is not None:
            await asyncio.to_thread(_attach_history, _app, settings.data_dir)
        poller = None
        if settings.api_poll_seconds > 0:
            poller = asyncio.create_task(_poll(state, settings.api_poll_seconds))
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            store.dispose()

    app = FastAPI(
        title="Blendcast API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files below: FastAPI's pages load a CDN
        redoc_url=None,
        # /v1/forecasts/SKU (no channel) is a 404 naming the fix, not a redirect to /v1/forecasts/SKU/.
        redirect_slashes=False,
    )
    add_offline_docs(app)
    app.state.settings = settings
    app.state.store = store
    app.state.served = state
    app.state.keys = KeyVerifier(store)
    app.state.metrics = api_metrics
    app.state.registry_cache = {}
    app.state.openapi_version = None
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # One error shape for every answer that is not a success (see serving/api/errors.py).
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(sa.exc.SQLAlchemyError, store_error_handler)
    app.add_exception_handler(Exception, internal_error_handler)
    for module in (forecasts, replenishment, purchase_orders, kpis, scenarios, segments, alerts, suppliers,
                   models, health):
        app.include_router(module.router)
    # Analyst pages and drift reports (server-rendered HTML): a read key by header or the sign-in
    # form's cookie, or BLENDCAST_PUBLIC_PAGES=true.
    register_pages(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(HeaderSizeLimit)
    # Added last, so it wraps everything and also counts and logs 401s, 413s, 431s and CORS preflights.
    app.add_middleware(ObserveRequests, metrics=api_metrics)
    return app
