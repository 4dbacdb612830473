"""Forecast lookups: one SKU-channel (``GET``) or up to 10,000 (``POST :batch``), from memory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from features.schema import parse_quantiles
from serving.api.deps import ReadKey, ReadServedDep, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.schemas import ForecastBatchRequest, ForecastBatchResponse, ForecastResponse
from serving.api.state import ServedRun

router = APIRouter(prefix="/v1", tags=["forecasts"])

def _levels(
    served: ServedRun, quantiles: list[float] | str | None
) -> tuple[list[int], list[str], list[float]]:
    if quantiles is None:
        cols, names = served.level_columns(None)
        return cols, names, list(served.levels)
    try:
        wanted = parse_quantiles(quantiles)
    except ValueError as exc:
        raise ApiError(400, f"{exc} Fix: pass levels like 0.5,0.975.") from None
    cols, names = served.level_columns(wanted)
    return cols, names, list(wanted)


@router.get(
    "/forecasts/{sku}/{channel}",
    response_model=ForecastResponse,
    responses=ERRORS,
    summary="Daily forecast of one SKU-channel",
)
async def get_forecast(
    served: ReadServedDep,
    sku: Annotated[str, Path(description="SKU code.", examples=["FOODS_1_001"])],
    channel: Annotated[str, Path(description="Sales channel.", examples=["CA_1"])],
    horizon: Annotated[int | None, Query(ge=1, le=3660, description="Days; default all published.")] = None,
    quantiles: Annotated[str | None, Query(description="Comma-separated levels, e.g. 0.5,0.975; "
                                                       "default all published.")] = None,
) -> Response:
    """Mean and quantiles per day from the served (champion's latest published) run."""
    pos = served.locate(sku, channel)
    days = served.check_horizon(horizon)
    cols, names, levels = _levels(served, quantiles)
    return json_response({
        **served.header(), "sku": sku, "channel": channel, "horizon": days, "levels": levels,
        **served.series(pos, days, cols, names),
    })


@router.post(
    "/forecasts:batch",
    response_model=ForecastBatchResponse,
    responses=ERRORS,
    summary="Forecasts of up to 10,000 SKU-channels",
)
def batch_forecasts(_key: ReadKey, served: ServedDep, body: ForecastBatchRequest) -> Response:
    """Forecasts of many SKU-channels from one run; unknown ones are listed in ``not_found``."""
    days = served.check_horizon(body.horizon)
    cols, names, levels = _levels(served, body.quantiles)
    found: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for item in body.items:
        pos = served.index.get((item.sku, item.channel))
        if pos is None:
            missing.append(served.not_found_item(item.sku, item.channel, len(missing)))
        else:
            found.append({"sku": item.sku, "channel": item.channel, **served.series(pos, days, cols, names)})
    return json_response({**served.header(), "horizon": days, "levels": levels, "forecasts": found,
                  "not_found": missing})
