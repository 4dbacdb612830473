"""Forecast lookups: one SKU-channel (``GET``) or up to 10,000 (``POST :batch``), from memory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.responses import Response

from features.schema import parse_quantiles
from serving.api.deps import ReadKey, ReadServedDep, ServedDep
from serving.api.errors import ApiError
from serving.api.responses import ERRORS, json_response
from serving.api.routing import api_router
from serving.api.schemas import HORIZON_CAP, ForecastBatchRequest, ForecastBatchResponse, ForecastResponse
from serving.api.state import ServedRun

router = api_router(prefix="/v1", tags=["forecasts"])

def _levels(
    served: ServedRun, quantiles: list[float] | str | None
) -> tuple[list[int], list[str], list[float]]:
    if quantiles is None:
        cols, names = served.level_columns(None)
        return cols, names, list(served.levels)
    if isinstance(quantiles, str):
        # Written as the schema lists them (its pattern names the served run's levels).
        tokens = [t.strip() for t in quantiles.split(",")]
        unknown = [t for t in tokens if t not in served.level_names]
        if unknown:
            raise ApiError(400, f"The 'quantiles' {unknown} are not levels of run {served.run_id}. "
                                f"Published levels: {served.level_names}. Fix: ask for some of those, "
                                "written as listed, e.g. quantiles=0.5,0.975.",
                           {"published_quantiles": list(served.levels)})
        quantiles = [float(t) for t in tokens]
    try:
        wanted = parse_quantiles(quantiles)
    except ValueError as exc:
        raise ApiError(400, f"{exc} Fix: pass levels like 0.5,0.975.") from None
    cols, names = served.level_columns(wanted)
    return cols, names, list(wanted)


def locate(served: ServedRun, sku: str, channel: str) -> tuple[int, str, str]:
    """Row of ``sku``/``channel``, also when the SKU or the channel contains ``/``.

    The route's last segment takes the rest of the path (``{channel:path}``), so ``/A/B/X`` arrives as
    sku ``A``, channel ``B/X``; when that pair is unknown, every other split of ``A/B/X`` is tried.

    Raises:
        ApiError: 404 with the closest matches; 400 when two splits are both known.
    """
    pos = served.index.get((sku, channel))
    if pos is not None:
        return pos, sku, channel
    joined = f"{sku}/{channel}"
    splits = [(joined[:i], joined[i + 1:]) for i, char in enumerate(joined) if char == "/"]
    hits = [pair for pair in splits if pair in served.index]
    if len(hits) == 1:
        return served.index[hits[0]], *hits[0]
    if len(hits) > 1:
        raise ApiError(400, f"'{joined}' names more than one SKU-channel: {[f'{s} | {c}' for s, c in hits]}. "
                            "Fix: ask POST /v1/forecasts:batch with sku and channel as separate fields.",
                       {"closest": [f"{s}/{c}" for s, c in hits]})
    raise served.unknown(sku, channel)


@router.get(
    "/forecasts/{sku}/{channel:path}",
    response_model=ForecastResponse,
    responses=ERRORS,
    summary="Daily forecast of one SKU-channel",
)
async def get_forecast(
    served: ReadServedDep,
    sku: Annotated[str, Path(description="SKU code ('/' allowed, or %2F).", examples=["FOODS_1_001"])],
    channel: Annotated[str, Path(description="Sales channel ('/' allowed).", examples=["CA_1"])],
    horizon: Annotated[int | None, Query(ge=1, le=HORIZON_CAP, description="Days, at most the served run's "
                                         "horizon (400 beyond it); default all published.")] = None,
    quantiles: Annotated[str | None, Query(
        max_length=500, description="Comma-separated levels in (0, 1) among those published, e.g. 0.5,0.975; "
                                    "default all published.", examples=["0.5,0.975"])] = None,
) -> Response:
    """Mean and quantiles per day from the served (champion's latest published) run.

    A SKU or channel containing ``/`` is reached as is or percent-encoded (``/v1/forecasts/A%2FB/X``); when
    two SKU-channels would match the same path, use ``POST /v1/forecasts:batch``.
    """
    pos, sku, channel = locate(served, sku, channel)
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
