"""Request and response models of the API, with the examples shown in the OpenAPI schema."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, field_validator

MAX_BATCH = 10_000
# The hard cap of a ``horizon`` in the validation layer; the OpenAPI schema shows the served run's own
# horizon instead (``app.py`` replaces this number), and a horizon past it is a 400 naming it.
HORIZON_CAP = 3660
Q_EXAMPLE = {"0.025": [0.0, 0.0], "0.5": [3.0, 3.0], "0.975": [7.0, 6.0]}


# Request models are strict: ``false`` is not 0, ``"12"`` is not 12 (a number is still a float).
_STRICT = ConfigDict(extra="forbid", strict=True)
Level = Annotated[float, Field(gt=0, lt=1, description="A quantile level in (0, 1).")]
# Query enums (tests check they equal the domain's ABC_CLASSES, POLICIES and ALERT_TYPES).
AbcClass = Literal["A", "B", "C"]
PolicyName = Literal["JIT", "SAFETY_STOCK", "SEASONAL_HYBRID"]
AlertType = Literal["spike", "volatility_shift", "segment_change", "supplier_slippage", "model_not_promoted",
                    "drift", "training_failed", "stockout_risk", "excess_stock", "excess_on_order",
                    "policy_health"]
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _iso_text(value: Any) -> Any:
    """Only ISO 8601 text becomes a date-time (pydantic would read ``0.5`` as a Unix time)."""
    if isinstance(value, str) and not _ISO.match(value.strip()):
        raise ValueError("Input should be an ISO 8601 date-time such as 2026-11-01T00:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]


def _whole(value: Any) -> Any:
    """``13.0`` is the integer 13 in JSON Schema; strict mode would refuse it (``true`` stays refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value



class FieldError(BaseModel):
    """One problem of a request that failed validation."""

    field: str = Field(examples=["items[0].on_hand"])
    in_: str = Field(alias="in", examples=["body"], description="body | query | path | header")
    type: str = Field(examples=["greater_than_equal"])
    message: str = Field(examples=["Input should be greater than or equal to 0"])
    got: Any = Field(default=None, examples=[-1])
    fix: str = Field(examples=["send a number >= 0"])


class ErrorBody(BaseModel):
    """The one error shape: what was wrong, what was expected and sent, and the fix. Validation errors
    list each problem in ``errors``; 404s add the closest matches; some errors add their limits."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(examples=["Unknown SKU 'FOODS_1_01' in run 7. Closest matches: ['FOODS_1_001']."])
    errors: list[FieldError] | None = Field(default=None, description="One entry per invalid field (422).")
    closest: list[str] | None = Field(default=None, examples=[["FOODS_1_001/CA_1"]])


class RunHeader(BaseModel):
    """Which run answered: every data response carries it."""

    run_id: int = Field(examples=[7])
    model_version: str | None = Field(examples=["12"])
    run_date: str | None = Field(description="When the run was published (ISO 8601, UTC).",
                                 examples=["2026-11-22T03:10:00+00:00"])


class SeriesForecast(BaseModel):
    """The daily forecast of one SKU-channel, as columns: day ``i`` is ``dates[i]``, ``mean[i]`` and
    ``quantiles[level][i]``."""

    sku: str = Field(examples=["FOODS_1_001"])
    channel: str = Field(examples=["CA_1"])
    dates: list[str] = Field(examples=[["2026-11-23", "2026-11-24"]])
    mean: list[float] = Field(description="Mean units per day.", examples=[[3.2, 2.9]])
    quantiles: dict[str, list[float]] = Field(description="Quantile level (decimal string) -> units per day.",
                                              examples=[Q_EXAMPLE])


class ForecastResponse(RunHeader, SeriesForecast):
    """``GET /v1/forecasts/{sku}/{channel}``."""

    horizon: int = Field(examples=[28])
    levels: list[float] = Field(description="Quantile levels returned.", examples=[[0.025, 0.5, 0.975]])


class SeriesKey(BaseModel):
    """One SKU-channel."""

    model_config = _STRICT

    sku: str = Field(min_length=1, max_length=200, examples=["FOODS_1_001"])
    channel: str = Field(min_length=1, max_length=200, examples=["CA_1"])


class NotFoundItem(SeriesKey):
    """A requested SKU-channel that the run does not hold, with the closest matches."""

    closest: list[str] = Field(examples=[["FOODS_1_001/CA_1"]])


class ForecastBatchRequest(BaseModel):
    """``POST /v1/forecasts:batch``: up to 10,000 SKU-channels."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "items": [{"sku": "FOODS_1_001", "channel": "CA_1"}, {"sku": "FOODS_1_002", "channel": "CA_1"}],
        "horizon": 14, "quantiles": [0.5, 0.975],
    }]})

    items: list[SeriesKey] = Field(min_length=1, max_length=MAX_BATCH)
    horizon: int | None = Field(default=None, ge=1, le=HORIZON_CAP,
                                description="Days, at most the served run's horizon; default: all published.")
    quantiles: list[Level] | None = Field(default=None, min_length=1, max_length=50,
                                          description="Levels in (0, 1) among those published; default all.")

    _whole_horizon = field_validator("horizon", mode="before")(_whole)


class ForecastBatchResponse(RunHeader):
    """Forecasts of the known SKU-channels; the unknown ones are listed in ``not_found``."""

    horizon: int
    levels: list[float] = Field(description="Quantile levels returned.")
    forecasts: list[SeriesForecast]
    not_found: list[NotFoundItem]


class ReplenishmentItem(SeriesKey):
    """The stock position of one SKU-channel, with optional what-if overrides."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "sku": "FOODS_1_001", "channel": "CA_1", "on_hand": 12, "on_order": 0, "backorders": 0,
        "service_level": 0.97,
    }]})

    on_hand: float = Field(ge=0, le=1e12, examples=[12])
    on_order: float = Field(default=0.0, ge=0, le=1e12, examples=[0])
    backorders: float = Field(default=0.0, ge=0, le=1e12, examples=[0])
    service_level: float | None = Field(default=None, gt=0, lt=1, description="Override of the target, "
                                        "within the served run's lead-time-demand grid (the bounds shown).")
    lead_time_days: float | None = Field(default=None, gt=0, le=365,
                                         description="Override of the mean lead time (approximation).")


class ReplenishmentBatch(BaseModel):
    """Up to 10,000 stock positions."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "items": [{"sku": "FOODS_1_001", "channel": "CA_1", "on_hand": 12},
                  {"sku": "FOODS_1_002", "channel": "CA_1", "on_hand": 0, "on_order": 6}],
    }]})

    items: list[ReplenishmentItem] = Field(min_length=1, max_length=MAX_BATCH)


def _replenishment_kind(value: Any) -> str:
    """A body with ``items`` is a batch; anything else is validated as one item (and only as one)."""
    return "ReplenishmentBatch" if isinstance(value, dict) and "items" in value else "ReplenishmentItem"


# One item or a batch, told apart by ``items``: a bad single item reports its own fields only.
ReplenishmentBody = Annotated[
    Annotated[ReplenishmentItem, Tag("ReplenishmentItem")]
    | Annotated[ReplenishmentBatch, Tag("ReplenishmentBatch")],
    Discriminator(_replenishment_kind),
]


class LeadTimeDemand(BaseModel):
    """Demand over lead time + review period."""

    mean: float | None = Field(examples=[21.5])
    quantiles: dict[str, float] = Field(description="Level -> units; empty if the run published no grid.",
                                        examples=[{"0.5": 21.0, "0.95": 30.0}])


class ReplenishmentResult(BaseModel):
    """The order advice for one SKU-channel."""

    sku: str = Field(examples=["FOODS_1_001"])
    channel: str = Field(examples=["CA_1"])
    policy: str = Field(examples=["SAFETY_STOCK"])
    segment: dict[str, str | None] = Field(examples=[{"abc": "A", "xyz": "Y", "pattern": "smooth"}])
    reasons: list[str] = Field(examples=[["class A: stockouts cost most"]])
    service_level: float | None = Field(examples=[0.97])
    lead_time_days: float | None = Field(examples=[9.2])
    lead_time_demand: LeadTimeDemand
    safety_stock: float = Field(examples=[8.5])
    reorder_point: float = Field(examples=[30.0])
    order_up_to: float = Field(examples=[51.0])
    inventory_position: float = Field(examples=[12.0])
    order_now: bool = Field(examples=[True])
    order_qty: float = Field(examples=[40.0])
    moq: float = Field(examples=[0.0])
    pack_size: float = Field(examples=[1.0])
    source: str = Field(description="published | grid | grid_rescaled | published_fallback",
                        examples=["grid"])
    notes: list[str] = Field(examples=[[]])


class ReplenishmentResponse(RunHeader, ReplenishmentResult):
    """``POST /v1/replenishment`` with one item."""


class ReplenishmentBatchResponse(RunHeader):
    """``POST /v1/replenishment`` with ``items``."""

    results: list[ReplenishmentResult]
    not_found: list[NotFoundItem]


class SegmentRow(BaseModel):
    """A SKU-channel's segment in the served run."""

    sku: str
    channel: str
    as_of: str | None = Field(examples=["2026-11-22"])
    abc: str | None = Field(examples=["A"])
    xyz: str | None = Field(examples=["Y"])
    pattern: str | None = Field(examples=["smooth"])
    policy: str | None = Field(examples=["SAFETY_STOCK"])
    figures: dict[str, Any] = Field(default_factory=dict)


class SegmentsResponse(RunHeader):
    """``GET /v1/segments``."""

    total: int = Field(description="Rows matching the filters (before limit/offset).")
    items: list[SegmentRow]


class SegmentHistoryRow(SegmentRow):
    """A SKU-channel's segment in one published run."""

    history_run_id: int
    published_at: str | None


class SkuSegmentsResponse(RunHeader):
    """``GET /v1/segments/{sku}``: current segments per channel and how they changed."""

    sku: str
    current: list[SegmentRow]
    history: list[SegmentHistoryRow]


class AlertRow(BaseModel):
    """One alert."""

    id: int
    type: str = Field(examples=["segment_change"])
    severity: str = Field(examples=["warning"])
    sku: str | None
    channel: str | None
    payload: dict[str, Any] | list[Any] | None
    created_at: datetime
    delivered_at: datetime | None


class AlertsResponse(BaseModel):
    """``GET /v1/alerts``: newest first."""

    items: list[AlertRow]


class SupplierRow(BaseModel):
    """A supplier's measured lead-time reliability."""

    model_config = ConfigDict(extra="allow")

    supplier: str = Field(examples=["ACME"])
    n_receipts: int | None = Field(default=None, examples=[42])
    mean: float | None = Field(default=None, examples=[9.1])
    p90: float | None = Field(default=None, examples=[13.0])
    cv: float | None = None
    on_time_rate: float | None = None
    bias: float | None = None
    trend: float | str | None = None
    reliability: float | str | None = None
    fallback: bool | str | None = None


class SuppliersResponse(RunHeader):
    """``GET /v1/suppliers``."""

    suppliers: list[SupplierRow]


class ModelVersionOut(BaseModel):
    """A registered model version."""

    version: int
    run_id: str
    aliases: list[str]
    metrics: dict[str, float]
    created_at: str


class ModelsResponse(RunHeader):
    """``GET /v1/models``: what is served, and the registry's champion and challenger if reachable."""

    served_model_uri: str | None
    served_metrics: dict[str, Any]
    registry: str = Field(description="'reachable' or why it is not.", examples=["reachable"])
    champion: ModelVersionOut | None
    challenger: ModelVersionOut | None


class ReloadResponse(BaseModel):
    """``POST /v1/admin/reload``."""

    swapped: bool
    run_id: int | None
    previous_run_id: int | None
    error: str | None = None


class ReadyResponse(BaseModel):
    """``GET /ready``."""

    ready: bool
    store: bool
    run_id: int | None
    detail: str
