"""Plain records returned by the result store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class NotFoundError(LookupError):
    """A run, report or API key asked for by id does not exist (or nothing is published yet)."""


@dataclass(frozen=True)
class RunInfo:
    """One run of the pipeline as recorded in the ``runs`` table.

    Attributes:
        id: Run id.
        created_at: When the run started (aware UTC).
        published_at: When its results became the served ones; None unless published.
        model_version: Registry version of the model that produced the forecasts.
        model_uri: MLflow URI of that model.
        horizon: Days forecast ahead.
        quantiles: Quantile levels of the forecast columns, sorted.
        metrics: Backtest and run metrics.
        params: Parameters the run was started with.
        data_hash: Fingerprint of the input data.
        status: ``running``, ``published`` or ``failed``.
        kind: What kind of run this is (e.g. ``train``, ``forecast``).
        notes: Free text; the error message of a failed run.
    """

    id: int
    created_at: datetime
    published_at: datetime | None
    model_version: str | None
    model_uri: str | None
    horizon: int | None
    quantiles: tuple[float, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    data_hash: str = ""
    status: str = "running"
    kind: str = ""
    notes: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One pending webhook delivery of an alert, with what is needed to send it.

    Attributes:
        id: Outbox row id (pass it to ``record_delivery``).
        alert_id: The alert delivered.
        url: Receiver URL.
        attempts: Failed attempts so far.
        next_attempt_at: When the delivery became due.
        last_error: Error of the previous attempt, if any.
        alert: The alert itself: ``id, type, severity, sku, channel, payload, created_at``.
    """

    id: int
    alert_id: int
    url: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    alert: dict[str, Any]


@dataclass(frozen=True)
class DriftReport:
    """A stored drift report.

    Attributes:
        id: Report id.
        run_id: The run it was computed for, if any.
        created_at: When it was saved (aware UTC).
        summary: Machine-readable findings.
        html: The rendered page.
    """

    id: int
    run_id: int | None
    created_at: datetime
    summary: dict[str, Any]
    html: str
