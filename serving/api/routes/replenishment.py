"""Order advice: policy, segment, lead-time demand, reorder point and order quantity for the IMS's stock."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from forecasting.replenishment import Recommendation, StockPosition, recommend
from serving.api.deps import ReadKey, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.schemas import (
    ReplenishmentBatch,
    ReplenishmentBatchResponse,
    ReplenishmentItem,
    ReplenishmentResponse,
)
from serving.api.state import ServedRun

router = APIRouter(prefix="/v1", tags=["replenishment"])


def _result(item: ReplenishmentItem, row: dict[str, Any], rec: Recommendation) -> dict[str, Any]:
    plain = asdict(rec)
    reasons = row.get("reasons")
    if not isinstance(reasons, list):
        reasons = [reasons] if reasons else []
    return {
        "sku": item.sku,
        "channel": item.channel,
        "policy": row.get("policy"),
        "segment": {"abc": row.get("abc"), "xyz": row.get("xyz"), "pattern": row.get("pattern")},
        "reasons": [str(r) for r in reasons],
        "service_level": plain["service_level"],
        "lead_time_days": plain["lead_time_days"],
        "lead_time_demand": {"mean": plain["expected_demand"], "quantiles": plain["demand_quantiles"]},
        **{k: plain[k] for k in ("safety_stock", "reorder_point", "order_up_to", "inventory_position",
                                 "order_now", "order_qty", "source", "notes")},
        "moq": float(row.get("moq") or 0.0),
        "pack_size": float(row.get("pack_size") or 1.0),
    }


def _advise(served: ServedRun, item: ReplenishmentItem, index: int | None = None) -> dict[str, Any] | None:
    row = served.policies.get((item.sku, item.channel))
    if row is None:
        return None
    position = StockPosition(item.on_hand, item.on_order, item.backorders, item.service_level,
                             item.lead_time_days)
    try:
        return _result(item, row, recommend(row, position))
    except ValueError as exc:
        where = f"Item {index} ({item.sku}/{item.channel}): " if index is not None else ""
        raise ApiError(400, f"{where}{exc}") from None


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
    _key: ReadKey, served: ServedDep, body: ReplenishmentItem | ReplenishmentBatch
) -> Response:
    """Given the stock position (and optional service-level or lead-time override), what to order now.

    One item answers with one result (404 for an unknown SKU-channel); ``{"items": [...]}`` answers with
    ``results`` and lists unknown SKU-channels in ``not_found``.
    """
    if isinstance(body, ReplenishmentItem):
        result = _advise(served, body)
        if result is None:
            raise _unknown(served, body)
        return json_response({**served.header(), **result})
    results: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for i, item in enumerate(body.items):
        result = _advise(served, item, i)
        if result is None:
            missing.append(served.not_found_item(item.sku, item.channel, len(missing)))
        else:
            results.append(result)
    return json_response({**served.header(), "results": results, "not_found": missing})
