"""Purchase-order proposals: one order per supplier and order date, one line per SKU."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from forecasting.inventory.purchase_orders import NoInventoryError
from serving.api.deps import ReadKey, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.workbench.orders import check_order_date, proposal

router = api_router(prefix="/v1", tags=["purchase orders"])

_ERRORS = {**ERRORS, 409: {"model": ERRORS[400]["model"],
                           "description": "The run was planned without an inventory table, or as_of is "
                                          "before its planning date."}}


@router.get("/purchase-orders", responses=_ERRORS, summary="Purchase orders due, per supplier")
def purchase_orders(
    _key: ReadKey,
    served: ServedDep,
    supplier: Annotated[str | None, Query(max_length=200, description="Only this supplier.")] = None,
    as_of: Annotated[date | None, Query(description="Order date (ISO, on or after the run's planning date); "
                                                    "default: the planning date.")] = None,
) -> Response:
    """Orders due on the order date: a SKU-channel is on an order when its stock position (on hand + on
    order - backorders) is at or below its reorder point. Each SKU is one line with its channels added
    up, rounded up once to the MOQ and whole packs; arrival from the measured lead time (mean; p90 as
    ``latest_arrival``), values at unit cost, reasons in words. 409 when the run saw no inventory table.
    """
    try:
        order_date = check_order_date(served, as_of.isoformat() if as_of is not None else None)
        result, records = proposal(served, order_date)
    except NoInventoryError as exc:
        raise ApiError(409, str(exc)) from None
    except ValueError as exc:  # a date before the served run's planning date: conflicts with the run
        raise ApiError(409, str(exc), {"field": "as_of", "value": str(as_of)}) from None
    if supplier is not None:
        names = set(result.orders["supplier"]) | set(result.lines["supplier"])
        known = {str(s) for s in served.policies.columns.get("supplier", []) if s}
        if supplier not in known and supplier not in names:
            raise ApiError(404, f"Unknown supplier {supplier!r} in run {served.run_id}. Known suppliers: "
                                f"{sorted(known)[:20]}. Fix: use one of them.",
                           {"field": "supplier", "value": supplier})
        records = [o for o in records if o["supplier"] == supplier]
    total = sum(float(o["total_value"] or 0.0) for o in records)
    return json_response({
        **served.header(), "order_date": order_date.date().isoformat(), "n_series": result.n_series,
        "n_due": result.n_due, "n_orders": len(records), "total_value": round(total, 2), "orders": records,
    })
