"""Supplier lead-time reliability as audited by the published run."""

from __future__ import annotations

from fastapi.responses import Response

from serving.api.deps import ReadKey, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import SuppliersResponse
from serving.api.state import plain

router = api_router(prefix="/v1", tags=["suppliers"])

# The lead-time audit's own column names -> the API's (both kept; the API's filled when absent).
_ALIASES = {"mean_days": "mean", "p90_days": "p90", "bias_days": "bias", "bias_trend_per_quarter": "trend"}


def _row(audit_row: dict) -> dict:
    row = {k: plain(v) for k, v in audit_row.items()}
    for source, name in _ALIASES.items():
        if name not in row and source in row:
            row[name] = row[source]
    return row


@router.get("/suppliers", response_model=SuppliersResponse, responses=ERRORS,
            summary="Supplier lead-time audit of the served run")
async def list_suppliers(_key: ReadKey, served: ServedDep) -> Response:
    """Per supplier: receipts, mean and p90 lead time, CV, on-time rate, bias, trend, reliability.

    Read from the run's ``metrics["supplier_audit"]``; 503 if the run published none.
    """
    audit = served.run.metrics.get("supplier_audit")
    if not isinstance(audit, list):
        raise ApiError(503, f"Run {served.run_id} published no supplier audit. Fix: re-run the weekly "
                            "pipeline (it stores the audit with the run).")
    rows = [_row(row) for row in audit if isinstance(row, dict)]
    return json_response({**served.header(), "suppliers": rows})
