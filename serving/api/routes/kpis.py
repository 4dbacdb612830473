"""Realized KPIs from operating data, as computed by the weekly job for the served run."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import Response

from serving.api.deps import ReadKey, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router

router = api_router(prefix="/v1", tags=["kpis"])


@router.get("/kpis", responses=ERRORS, summary="Realized KPIs per policy and ABC class, last quarters")
def get_kpis(
    _key: ReadKey,
    served: ServedDep,
    policy: Annotated[Literal["JIT", "SAFETY_STOCK", "SEASONAL_HYBRID", "unplanned", "all"] | None,
                      Query(description="Only this policy ('all' = every policy together).")] = None,
) -> Response:
    """Per quarter (91 days) and group of policy and ABC class: stockout rate and events per SKU-channel,
    turnover, days of inventory, carrying cost as % of revenue, cash-to-inventory cycle, returns rate;
    per supplier: lead-time mean, variance and on-time rate. From the sales table's ``in_stock`` days,
    returns and the stock reconstructed from the inventory snapshot and receipts.
    """
    kpis = served.run.metrics.get("operating_kpis")
    if not isinstance(kpis, dict) or not kpis.get("groups"):
        raise ApiError(404, f"Run {served.run_id} published no realized KPIs (no sales to measure, or the "
                            "run predates them). Fix: run `blendcast train` again, or `blendcast kpis "
                            "--data DIR`.")
    wanted = None if policy is None else policy.lower()
    groups = [g for g in kpis["groups"] if wanted is None or str(g.get("policy")).lower() == wanted]
    return json_response({**served.header(), "groups": groups, "suppliers": kpis.get("suppliers", [])})
