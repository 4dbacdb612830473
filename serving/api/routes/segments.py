"""Segments of the served run (filterable) and a SKU's segment history across runs."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import Path, Query
from fastapi.responses import Response

from serving.api.deps import ReadKey, ServedDep, StoreDep
from serving.api.errors import ApiError, closest
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import AbcClass, PolicyName, SegmentsResponse, SkuSegmentsResponse
from serving.api.state import records

router = api_router(prefix="/v1", tags=["segments"])

_FIXED = ("sku", "channel", "as_of", "abc", "xyz", "pattern", "policy")


def _rows(frame: pd.DataFrame, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for rec in records(frame):
        row = {k: rec.get(k) for k in (*_FIXED, *extra)}
        if isinstance(row["as_of"], str):
            row["as_of"] = row["as_of"][:10]
        row["figures"] = {k: v for k, v in rec.items() if k not in _FIXED and k not in extra
                          and k not in ("run_id", "published_at")}
        out.append(row)
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if pd.notna(value) else None


@router.get("/segments", response_model=SegmentsResponse, responses=ERRORS,
            summary="Segments of the served run")
def list_segments(
    _key: ReadKey,
    served: ServedDep,
    abc: Annotated[AbcClass | None, Query(description="ABC class: A, B or C.")] = None,
    policy: Annotated[PolicyName | None, Query(description="JIT, SAFETY_STOCK or SEASONAL_HYBRID.")] = None,
    channel: Annotated[str | None, Query(max_length=200, description="Sales channel.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Every SKU-channel's ABC/XYZ class, demand pattern and policy, filtered, in pages."""
    frame = served.segments
    mask = pd.Series(True, index=frame.index)
    for column, value in (("abc", abc), ("policy", policy), ("channel", channel)):
        if value is not None and column in frame:
            mask &= frame[column].astype(str) == value
    chosen = frame[mask]
    return json_response({**served.header(), "total": len(chosen),
                          "items": _rows(chosen.iloc[offset : offset + limit])})


@router.get("/segments/{sku:path}", response_model=SkuSegmentsResponse, responses=ERRORS,
            summary="A SKU's segments per channel and their history")
def sku_segments(
    _key: ReadKey,
    served: ServedDep,
    store: StoreDep,
    sku: Annotated[str, Path(description="SKU code ('/' allowed).", examples=["FOODS_1_001"])],
) -> Response:
    """The SKU's current segment in each channel and how it changed across published runs."""
    frame = served.segments
    current = frame[frame["sku"].astype(str) == sku] if "sku" in frame else frame.iloc[:0]
    if current.empty and sku not in served.channels_of:
        names = closest(sku, served.channels_of)
        raise ApiError(
            404,
            f"Unknown SKU '{sku}' in run {served.run_id}. Closest matches: {names or 'none'}. "
            "Fix: check the SKU code.",
            {"closest": names},
        )
    history = store.segment_history(sku)
    history = history.rename(columns={"run_id": "history_run_id"})
    if "published_at" in history:
        history["published_at"] = history["published_at"].map(_iso)
    return json_response({**served.header(), "sku": sku, "current": _rows(current),
                          "history": _rows(history, ("history_run_id", "published_at"))})
