"""Campaign what-if: stock needed, order quantity, order-by date and stop-pushing level of a campaign."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from starlette.concurrency import run_in_threadpool

from forecasting.inventory.campaigns import MAX_UPLIFT
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
    expected_uplift: float = Field(gt=0, le=MAX_UPLIFT + 1.0,
                                   description="Demand multiplier during the promotion, as in the "
                                               "promotions table: 1.5 = +50 %.")


class _Campaign(BaseModel):
    """The campaign fields shared by the SKU and the category shape."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] | None = Field(default=None, min_length=1, max_length=50,
                                       description="Channels (default: every channel of each SKU).")
    start: date = Field(description="First campaign day, after the served run's planning date.")
    end: date = Field(description="Last campaign day, on or after 'start' and by the last forecast day.")
    uplift_base: float = Field(gt=-1.0, le=MAX_UPLIFT, description="Base-case uplift, 1.0 = +100 %; in "
                               "(-1, 20] as check_campaign requires.")
    uplift_best: float | None = Field(default=None, description="Best-case uplift, at least 'uplift_base' "
                                      "(default: the base case).", gt=-1.0, le=MAX_UPLIFT)
    n_paths: int = Field(default=2000, ge=200, le=20000, description="Sample paths per series.")


class SkuCampaign(_Campaign):
    """A planned campaign on a list of SKUs."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "skus": ["SKU00001"], "channels": ["web"], "start": "2026-12-01", "end": "2026-12-07",
        "uplift_base": 1.0, "uplift_best": 2.0}]})

    skus: list[str] = Field(min_length=1, max_length=500, description="SKUs in the campaign.")


class CategoryCampaign(_Campaign):
    """A planned campaign on every SKU of a category."""

    category: str = Field(min_length=1, max_length=200, description="The SKUs' category.")


class PromotionScenario(BaseModel):
    """A campaign given as one promotions row."""

    model_config = ConfigDict(extra="forbid")

    promotion: Promotion = Field(description="A promotions row with expected_uplift.")
    n_paths: int = Field(default=2000, ge=200, le=20000, description="Sample paths per series.")


_SHAPES = {"skus": "SkuCampaign", "category": "CategoryCampaign", "promotion": "PromotionScenario"}


def _scenario_kind(value: Any) -> str | None:
    """The shape named by the one of ``skus`` / ``category`` / ``promotion`` given (None: not exactly one)."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    given = [tag for key, tag in _SHAPES.items() if isinstance(value, dict) and key in value]
    return given[0] if len(given) == 1 else None


# Told apart by which of skus / category / promotion is given, so a bad body reports its own shape's fields.
ScenarioRequest = Annotated[
    Annotated[SkuCampaign, Tag("SkuCampaign")]
    | Annotated[CategoryCampaign, Tag("CategoryCampaign")]
    | Annotated[PromotionScenario, Tag("PromotionScenario")],
    Discriminator(_scenario_kind, custom_error_type="scenario_shape",
                  custom_error_message="Give exactly one of 'skus' (a list of SKU codes, e.g. "
                                       "[\"SKU00001\"]), 'category', or a 'promotion' row"),
]


@router.post("/scenarios", responses=ERRORS,
             summary="What-if of a planned campaign: stock needed, order and stop-pushing level")
async def scenarios(_key: ReadKey, served: ServedDep, store: StoreDep, body: ScenarioRequest) -> Response:
    """Demand with the uplift over the campaign window (base and best case), the stock needed through its
    end at the class's service level, the order quantity (MOQ and packs) and order-by date from the
    measured lead time, and the stop-pushing level. Nothing is stored. The body is one of three shapes
    (``skus``, ``category`` or a ``promotion`` row); a missing field, an uplift outside (-100 %, +2,000 %]
    or not exactly one of those three keys is a 422. What the schema cannot state is a 400 naming the
    field: end before start, uplift_best below uplift_base, dates outside the served run's forecast window
    (past, or after its last day). An unknown SKU, channel or category is a 404.
    """
    skus: list[str] | None = None
    category: str | None = None
    channels: list[str] | None
    best: float | None = None
    if isinstance(body, PromotionScenario):
        p = body.promotion
        skus, channels = [p.sku], [p.channel]
        # The promotions table's expected_uplift is a multiplier (1.5 = +50 %): the uplift is that - 1.
        start, end, base = p.start, p.end, p.expected_uplift - 1.0
    else:
        if isinstance(body, SkuCampaign):
            skus = body.skus
        else:
            category = body.category
        channels, start, end = body.channels, body.start, body.end
        base, best = body.uplift_base, body.uplift_best
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
