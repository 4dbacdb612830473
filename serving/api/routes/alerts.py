"""Alerts (segment changes, spikes, volatility shifts), newest first."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import pandas as pd
from fastapi import Query
from fastapi.responses import Response

from serving.api.deps import ReadKey, StoreDep
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import AlertsResponse, AlertType, IsoDateTime
from serving.api.state import records

router = api_router(prefix="/v1", tags=["alerts"])


@router.get("/alerts", response_model=AlertsResponse, responses=ERRORS, summary="Alerts, newest first")
def list_alerts(
    _key: ReadKey,
    store: StoreDep,
    since: Annotated[IsoDateTime | None, Query(
        description="Only alerts at or after this time (ISO 8601; naive = UTC).",
        examples=["2026-11-01T00:00:00Z"],
    )] = None,
    type: Annotated[AlertType | None, Query(description="Alert type, e.g. segment_change.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    """Alerts stored by the pipeline; they do not depend on the served run."""
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    frame = store.list_alerts(since=since, type=type, limit=limit)
    for col in ("created_at", "delivered_at"):
        frame[col] = frame[col].map(lambda t: t.isoformat() if pd.notna(t) else None).astype(object)
    items = [{k: v for k, v in rec.items() if k != "dedup_key"} for rec in records(frame)]
    return json_response({"items": items})
