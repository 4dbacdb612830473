"""Campaign what-if: stock needed, order quantity, order-by date and stop-pushing level of a campaign."""

from __future__ import annotations

from datetime import date

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from serving.api.deps import ReadKey, ServedDep, StoreDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.workbench.orders import plan_date, policy_frame
from serving.workbench.scenarios import UnknownSeriesError, run_scenario

router = api_router(prefix="/v1", tags=["scenarios"])


class Promotion(BaseModel):
    """A ``promotions`` row: the campaign's series, dates and expected uplift."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=200)
    start: date
    end: date
    expected_uplift: float = Field(gt=0, description="Demand multiplier during the promotion, as in the "
                                                     "promotions table: 1.5 = +50 %.")


class ScenarioRequest(BaseModel):
    """A planned campaign: SKUs or a category, channels, dates and uplifts (or one promotions row)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "skus": ["SKU00001"], "channels": ["web"], "start": "2026-12-01", "end": "2026-12-07",
        "uplift_base": 1.0, "uplift_best": 2.0}]})

    skus: list[str] | None = Field(default=None, min_length=1, max_length=500,
                                   description="SKUs in the campaign (or give 'category').")
    category: str | None = Field(default=None, min_length=1, max_length=200)
    channels: list[str] | None = Field(default=None, min_length=1, max_length=50,
                                       description="Channels (default: every channel of each SKU).")
    start: date | None = Field(default=None, description="First campaign day.")
    end: date | None = Field(default=None, description="Last campaign day.")
    uplift_base: float | None = Field(default=None, description="Base-case uplift, 1.0 = +100 %.")
    uplift_best: float | None = Field(default=None, description="Best-case uplift (default: the base case).")
    promotion: Promotion | None = Field(default=None, description="Instead of the fields above: a promotions "
                                                                  "row with expected_uplift.")
    n_paths: int = Field(default=2000, ge=200, le=20000, description="Sample paths per series.")


@router.post("/scenarios", responses=ERRORS,
             summary="What-if of a planned campaign: stock needed, order and stop-pushing level")
async def scenarios(_key: ReadKey, served: ServedDep, store: StoreDep, body: ScenarioRequest) -> Response:
    """Demand with the uplift over the campaign window (base and best case), the stock needed through its
    end at the class's service level, the order quantity (MOQ and packs) and order-by date from the
    measured lead time, and the stop-pushing level. Nothing is stored. A field that cannot be planned
    (end before start, past dates, uplift outside (-100 %, +2,000 %]) is a 400 naming it; an unknown SKU,
    channel or category a 404.
    """
    start: date | None
    end: date | None
    base: float | None
    skus: list[str] | None
    channels: list[str] | None
    if body.promotion is not None:
        p = body.promotion
        skus, category, channels = [p.sku], None, [p.channel]
        # The promotions table's expected_uplift is a multiplier (1.5 = +50 %): the uplift is that - 1.
        start, end, base, best = p.start, p.end, p.expected_uplift - 1.0, None
    else:
        missing = [f for f in ("start", "end", "uplift_base") if getattr(body, f) is None]
        if missing:
            raise ApiError(400, f"The field(s) {missing} are required (or give a 'promotion' row). Fix: add "
                                "them, e.g. \"start\": \"2026-12-01\", \"uplift_base\": 1.0.",
                           {"fields": missing})
        skus, category, channels = body.skus, body.category, body.channels
        start, end, base, best = body.start, body.end, body.uplift_base, body.uplift_best
    assert start is not None and end is not None and base is not None
    try:
        answer = await run_in_threadpool(
            run_scenario, store, served.run, policy_frame(served), plan_date(served), skus=skus,
            category=category, channels=channels, start=start, end=end, uplift_base=base,
            uplift_best=best, n_paths=body.n_paths)
    except UnknownSeriesError as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return json_response({**served.header(), **answer})
