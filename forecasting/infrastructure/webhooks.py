"""Webhook delivery of the alert outbox: signed JSON POSTs, one attempt per due row, outcome recorded.

Every due outbox row is POSTed as JSON with an HMAC-SHA256 signature of the body
(``X-Blendcast-Signature: sha256=<hex>``), the send time (``X-Blendcast-Timestamp``, also inside the
signed body) and a delivery id (``X-Blendcast-Delivery``) that stays the same across retries, so a
receiver can drop a duplicate. A 2xx answer marks the row delivered; anything else is retried with
exponential backoff by the store. Receivers check a request with :func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol

import httpx

from forecasting.persistence.frames import to_jsonable
from forecasting.persistence.records import Delivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-Blendcast-Signature"
TIMESTAMP_HEADER: Final = "X-Blendcast-Timestamp"
DELIVERY_HEADER: Final = "X-Blendcast-Delivery"
EVENT_HEADER: Final = "X-Blendcast-Event"


class OutboxStore(Protocol):
    """What delivery needs of :class:`~forecasting.persistence.ResultStore`: the due rows, and where
    to record each attempt."""

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]: ...

    def record_delivery(
        self, outbox_id: int, ok: bool, error: str = "", next_attempt_at: datetime | None = None
    ) -> None: ...


def signature(body: bytes, secret: str) -> str:
    """The ``X-Blendcast-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True if ``header`` is the signature of exactly ``body`` under ``secret`` (constant-time)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(signature(body, secret), header.strip())


@dataclass
class DeliveryReport:
    """Outcome of one pass over the outbox.

    Attributes:
        sent: Outbox ids delivered in this pass.
        failed: Outbox id -> error, for attempts that failed (they are retried later).
    """

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def delivery_request(delivery: Delivery, secret: str, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The JSON body and headers of one delivery attempt.

    The body holds the delivery id, the send time and the alert; the signature covers all of it, so
    a receiver that checks the timestamp also rejects replays.
    """
    sent_at = now.astimezone(UTC).isoformat()
    body = json.dumps(
        {"delivery_id": str(delivery.id), "sent_at": sent_at, "attempt": delivery.attempts + 1,
         "alert": to_jsonable(delivery.alert)},
        sort_keys=True, default=str,
    ).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(body, secret),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        DELIVERY_HEADER: str(delivery.id),
        EVENT_HEADER: str(delivery.alert.get("type", "")),
    }
    return body, headers


def process_outbox(
    store: OutboxStore,
    secret: str,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    timeout_s: float = 10.0,
    batch: int = 100,
) -> DeliveryReport:
    """Send every due delivery once; record each outcome in the store.

    Args:
        store: The result store.
        secret: HMAC key of the signature (``Settings.webhook_secret``).
        now: The time deliveries are due by; defaults to the current UTC time.
        client: An httpx client to reuse; one is created (and closed) otherwise.
        timeout_s: Per-request timeout when creating the client.
        batch: Deliveries read from the store at a time.

    Returns:
        Which deliveries went out and which failed (and why).
    """
    now = now or datetime.now(UTC)
    report = DeliveryReport()
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    seen: set[int] = set()
    try:
        while True:
            due = [d for d in store.due_deliveries(now, limit=batch) if d.id not in seen]
            if not due:
                break
            for delivery in due:
                seen.add(delivery.id)
                ok, error = _send(http, delivery, secret, now)
                store.record_delivery(delivery.id, ok, error)
                if ok:
                    report.sent.append(delivery.id)
                else:
                    report.failed[delivery.id] = error
                    logger.warning("Webhook delivery %d of alert %d to %s failed (attempt %d): %s",
                                   delivery.id, delivery.alert_id, delivery.url, delivery.attempts + 1, error)
    finally:
        if own:
            http.close()
    if report.sent or report.failed:
        logger.info("Webhooks: %d delivered, %d to retry.", len(report.sent), len(report.failed))
    return report


def _send(client: httpx.Client, delivery: Delivery, secret: str, now: datetime) -> tuple[bool, str]:
    body, headers = delivery_request(delivery, secret, now)
    try:
        response = client.post(delivery.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return True, ""
    return False, f"HTTP {response.status_code}: {response.text[:200]}"
