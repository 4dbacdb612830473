"""The served model and the registry's champion and challenger."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from serving.api.deps import ReadKey, ServedDep, SettingsDep
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import ModelsResponse
from serving.api.state import plain

log = logging.getLogger(__name__)
router = api_router(prefix="/v1", tags=["models"])

# Registry answers are cached this long: listing versions costs an MLflow query (and mlflow's import).
_CACHE_S = 60.0
_TIMEOUT_S = 20.0


def _version(info: Any) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"version": int(info.version), "run_id": str(info.run_id), "aliases": list(info.aliases),
            "metrics": {k: float(v) for k, v in info.metrics.items() if math.isfinite(float(v))},
            "created_at": str(info.created_at)}


def _registry_view(uri: str) -> dict[str, Any]:
    """Champion and challenger from the MLflow registry, or why it is unreachable."""
    parsed = sa.make_url(uri) if uri.startswith("sqlite") else None
    if parsed is not None and parsed.database and not Path(parsed.database).expanduser().exists():
        return {"registry": f"unreachable: no registry database at {parsed.database}",
                "champion": None, "challenger": None}
    try:
        from training.registry import CHALLENGER, Registry  # lazy: importing mlflow takes seconds

        registry = Registry(uri)
        return {"registry": "reachable", "champion": _version(registry.champion()),
                "challenger": _version(registry.by_alias(CHALLENGER))}
    except Exception as exc:  # the registry is optional for serving: report it, keep answering
        log.warning("model registry unreachable: %s", exc)
        return {"registry": f"unreachable: {type(exc).__name__}: {exc}"[:500], "champion": None,
                "challenger": None}


@router.get("/models", response_model=ModelsResponse, responses=ERRORS,
            summary="Served model, champion and challenger")
async def models(_key: ReadKey, served: ServedDep, settings: SettingsDep, request: Request) -> Response:
    """The served run's model version and metrics, with the registry's champion and challenger when the
    registry is reachable (cached for a minute)."""
    cache: dict[str, Any] = request.app.state.registry_cache
    if cache.get("expires", 0.0) < time.monotonic():
        try:
            view = await asyncio.wait_for(
                asyncio.to_thread(_registry_view, settings.resolved_mlflow_uri), _TIMEOUT_S
            )
        except TimeoutError:
            view = {"registry": f"unreachable: no answer within {_TIMEOUT_S:g} s", "champion": None,
                    "challenger": None}
        cache.update(view=view, expires=time.monotonic() + _CACHE_S)
    metrics = {k: plain(v) for k, v in served.run.metrics.items() if not isinstance(v, list | dict)}
    return json_response({**served.header(), "served_model_uri": served.run.model_uri,
                          "served_metrics": metrics, **cache["view"]})
