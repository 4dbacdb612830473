"""Order advice: policy, segment, lead-time demand, reorder point and order quantity for the IMS's stock."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from forecasting.inventory.replenishment import Recommendation, StockPosition, recommend_many
from serving.api.deps import ReadKey, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import (
    ReplenishmentBatchResponse,
    ReplenishmentBody,
    ReplenishmentItem,
    ReplenishmentResponse,
)
from serving.api.state import ServedRun

router = api_router(prefix="/v1", tags=["replenishment"])


def _result(item: ReplenishmentItem, row: dict[str, Any], rec: Recommendation) -> dict[str, Any]:
    reasons = row.get("reasons")
    if not isinstance(reasons, list):
        reasons = [reasons] if reasons else []
    return {
        "sku": item.sku,
        "channel": item.channel,
        "policy": row.get("policy"),
        "segment": {"abc": row.get("abc"), "xyz": row.get("xyz"), "pattern": row.get("pattern")},
        "reasons": [str(r) for r in reasons],
        "service_level": rec.service_level,
        "lead_time_days": rec.lead_time_days,
        "lead_time_demand": {"mean": rec.expected_demand, "quantiles": rec.demand_quantiles},
        "safety_stock": rec.safety_stock,
        "reorder_point": rec.reorder_point,
        "order_up_to": rec.order_up_to,
        "inventory_position": rec.inventory_position,
        "order_now": rec.order_now,
        "order_qty": rec.order_qty,
        "moq": float(row.get("moq") or 0.0),
        "pack_size": float(row.get("pack_size") or 1.0),
        "source": rec.source,
        "notes": rec.notes,
    }


def _advise(
    served: ServedRun, items: list[ReplenishmentItem], labels: list[str]
) -> list[dict[str, Any]]:
    rows = [served.policies[(i.sku, i.channel)] for i in items]
    positions = [StockPosition(i.on_hand, i.on_order, i.backorders, i.service_level, i.lead_time_days)
                 for i in items]
    try:
        recs = recommend_many(rows, positions, labels)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return [_result(item, row, rec) for item, row, rec in zip(items, rows, recs, strict=True)]


def _unknown(served: ServedRun, item: ReplenishmentItem) -> ApiError:
    if (item.sku, item.channel) in served.index:
        return ApiError(404, f"Run {served.run_id} published a forecast but no policy for "
                             f"{item.sku}/{item.channel}. Fix: re-run the pipeline with policies.",
                        {"closest": []})
    return served.unknown(item.sku, item.channel)


@router.post(
    "/replenishment",
    response_model=ReplenishmentResponse | ReplenishmentBatchResponse,
    responses=ERRORS,
    summary="Order advice for one SKU-channel or a batch of up to 10,000",
)
def replenishment(
    _key: ReadKey, served: ServedDep, body: ReplenishmentBody
) -> Response:
    """Given the stock position (and optional service-level or lead-time override), what to order now.

    One item answers with one result (404 for an unknown SKU-channel); ``{"items": [...]}`` answers with
    ``results`` and lists unknown SKU-channels in ``not_found``. A body with ``items`` is read as a
    batch, any other as one item, so errors name only the fields of what was sent.
    """
    if isinstance(body, ReplenishmentItem):
        if (body.sku, body.channel) not in served.policies:
            raise _unknown(served, body)
        result = _advise(served, [body], [f"{body.sku}/{body.channel}"])[0]
        return json_response({**served.header(), **result})
    found: list[ReplenishmentItem] = []
    labels: list[str] = []
    missing: list[dict[str, Any]] = []
    for i, item in enumerate(body.items):
        if (item.sku, item.channel) in served.policies:
            found.append(item)
            labels.append(f"Item {i} ({item.sku}/{item.channel})")
        else:
            missing.append(served.not_found_item(item.sku, item.channel, len(missing)))
    results = _advise(served, found, labels)
    return json_response({**served.header(), "results": results, "not_found": missing})
