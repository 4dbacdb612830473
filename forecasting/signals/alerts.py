"""Alerts: build them, store them, log them and deliver them to webhooks.

Delivery goes through the result store's outbox, so nothing is lost while a receiver is down:

1. :func:`emit_alerts` stores new alerts (a repeated ``dedup_key`` is skipped), logs each one and
   queues one outbox row per alert and webhook URL.
2. :func:`forecasting.infrastructure.webhooks.process_outbox` POSTs every due row, signed, and
   records the outcome; failures are retried with backoff by the store (1 minute doubling to an hour,
   given up after ``MAX_DELIVERY_ATTEMPTS``). Receivers check a request with
   :func:`forecasting.infrastructure.webhooks.verify_signature`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import httpx
import numpy as np
import pandas as pd

from forecasting.infrastructure.settings import Settings
from forecasting.infrastructure.webhooks import OutboxStore, process_outbox
from forecasting.persistence.alerts import SEVERITIES
from forecasting.persistence.frames import to_jsonable
from forecasting.signals.alert_types import ALERT_TYPES

logger = logging.getLogger(__name__)

# Days within which a re-estimated change date is the same volatility shift as a stored one.
SHIFT_REPEAT_DAYS: Final = 56


class AlertStore(OutboxStore, Protocol):
    """What alerting needs of :class:`~forecasting.persistence.ResultStore` (and delivery, the outbox)."""

    def add_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[int]: ...

    def enqueue_deliveries(self, alert_ids: Sequence[int], urls: Sequence[str]) -> None: ...

    def list_alerts(
        self, since: datetime | None = None, type: str | None = None, limit: int = 500
    ) -> pd.DataFrame: ...


def make_alert(
    type: str,
    severity: str,
    sku: str | None,
    channel: str | None,
    payload: dict[str, Any],
    dedup_key: str | None = None,
) -> dict[str, Any]:
    """One alert in the shape :meth:`ResultStore.add_alerts` stores.

    Args:
        type: One of :data:`ALERT_TYPES`.
        severity: ``info``, ``warning`` or ``critical``.
        sku: The SKU concerned, or None for catalogue-wide alerts.
        channel: The channel concerned, or None.
        payload: JSON-able details (the figures behind the alert).
        dedup_key: Identity of the situation; storing the same key twice is skipped.

    Raises:
        ValueError: If ``type`` or ``severity`` is unknown.
    """
    if type not in ALERT_TYPES:
        raise ValueError(f"The alert 'type' must be one of {list(ALERT_TYPES)}. Got {type!r}.")
    if severity not in SEVERITIES:
        raise ValueError(f"The alert 'severity' must be one of {list(SEVERITIES)}. Got {severity!r}.")
    return {"type": type, "severity": severity, "sku": sku, "channel": channel,
            "payload": to_jsonable(payload), "dedup_key": dedup_key}


def spike_alerts(spikes: pd.DataFrame) -> list[dict[str, Any]]:
    """Alerts for the windows of :func:`forecasting.signals.spikes.detect_spikes`.

    The dedup key is the series and the ISO week of the peak; a window re-estimated by a later run
    is recognised by :func:`drop_repeats` when it overlaps the stored one. Uplifts of 3x and more
    are warnings.
    """
    out = []
    for row in spikes.to_dict("records"):
        peak = pd.Timestamp(row["peak"])
        year, week, _ = peak.isocalendar()
        uplift = float(row["uplift"])
        # A series that sells nothing in its baseline window has no finite uplift.
        how_much = f"x{uplift:.1f}" if np.isfinite(uplift) else "from a near-zero baseline"
        out.append(make_alert(
            "spike", "warning" if row["uplift"] >= 3.0 else "info", str(row["sku"]), str(row["channel"]),
            {**{str(k): v for k, v in row.items()},
             "message": f"{row['sku']}/{row['channel']}: demand {how_much} expected "
                        f"{pd.Timestamp(row['start']):%Y-%m-%d}..{pd.Timestamp(row['end']):%Y-%m-%d} "
                        f"(peak {peak:%Y-%m-%d}, {row['source']})"},
            dedup_key=f"spike|{row['sku']}|{row['channel']}|{year}-W{week:02d}",
        ))
    return out


def volatility_alerts(shifts: pd.DataFrame) -> list[dict[str, Any]]:
    """Alerts for :func:`forecasting.signals.volatility.detect_volatility_shifts`.

    More variability is a warning (buffers sized on the calm past will run out); less is info.
    """
    out = []
    for row in shifts.to_dict("records"):
        up = row["cv_after"] > row["cv_before"]
        changed = pd.Timestamp(row["changed_at"])
        out.append(make_alert(
            "volatility_shift", "warning" if up else "info", str(row["sku"]), str(row["channel"]),
            {**{str(k): v for k, v in row.items()}, "direction": "up" if up else "down",
             "message": f"{row['sku']}/{row['channel']}: demand CV {row['cv_before']:.2f} -> "
                        f"{row['cv_after']:.2f} since {changed:%Y-%m-%d} (q={row['q_value']:.2g})"},
            dedup_key=f"volatility_shift|{row['sku']}|{row['channel']}|{changed:%Y-%m-%d}|"
                      f"{'up' if up else 'down'}",
        ))
    return out


def emit_alerts(
    store: AlertStore,
    alerts: Sequence[dict[str, Any]],
    settings: Settings,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> list[int]:
    """Store, log and deliver alerts.

    Args:
        store: The result store.
        alerts: Alert dicts (see :func:`make_alert`); repeats of a stored ``dedup_key`` are skipped,
            and so are re-estimates of a stored spike or shift (see :func:`drop_repeats`).
        settings: Webhook URLs and secret.
        now: Delivery time (tests); defaults to now.
        client: httpx client to reuse.

    Returns:
        Ids of the newly stored alerts.

    Raises:
        ValueError: If webhooks are configured without a secret (nothing is stored).
    """
    if settings.webhook_urls and not settings.webhook_secret:
        raise ValueError(
            "BLENDCAST_WEBHOOK_URLS is set but BLENDCAST_WEBHOOK_SECRET is empty: webhooks must be signed. "
            "Set a secret shared with the receivers."
        )
    ids: list[int] = []
    # One insert per alert tells which are new, so only those are logged (repeats are silent).
    for alert in drop_repeats(store, alerts):
        new_ids = store.add_alerts([alert])
        if not new_ids:
            continue
        ids.extend(new_ids)
        payload = alert.get("payload") or {}
        logger.log(
            logging.WARNING if alert["severity"] != "info" else logging.INFO, "alert %s [%s] %s",
            alert["type"], alert["severity"], payload.get("message") or _describe(alert),
        )
    logger.info("Alerts: %d new of %d (the rest were already stored).", len(ids), len(alerts))
    if ids and settings.webhook_urls:
        store.enqueue_deliveries(ids, list(settings.webhook_urls))
    if settings.webhook_urls:
        process_outbox(store, settings.webhook_secret, now=now, client=client)
    return ids


def drop_repeats(store: AlertStore, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leave out spikes and shifts already announced under slightly different dates.

    Each run re-estimates a spike's window and a shift's change date, which move by days as data
    arrives and would change the dedup key. A stored spike of the same series whose window overlaps
    the new one, or a stored shift of the same series and direction within
    :data:`SHIFT_REPEAT_DAYS`, is the same event. Stored alerts of the last year are compared.
    """
    if not any(a["type"] in ("spike", "volatility_shift") for a in alerts):
        return list(alerts)
    since = datetime.now(UTC) - timedelta(days=365)
    seen: dict[tuple[str, str, str], list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for kind in ("spike", "volatility_shift"):
        for row in store.list_alerts(since=since, type=kind, limit=1_000_000).to_dict("records"):
            payload = row["payload"] if isinstance(row["payload"], dict) else {}
            key, span = _event_span(kind, row["sku"], row["channel"], payload)
            if span is not None:
                seen.setdefault(key, []).append(span)
    out = []
    for alert in alerts:
        key, span = _event_span(alert["type"], alert["sku"], alert["channel"], alert.get("payload") or {})
        # Within one batch exact repeats are the dedup key's job: two windows of a series both count.
        if span is None or not any(span[0] <= end and start <= span[1] for start, end in seen.get(key, [])):
            out.append(alert)
    return out


def _event_span(
    type: str, sku: object, channel: object, payload: dict[str, Any]
) -> tuple[tuple[str, str, str], tuple[pd.Timestamp, pd.Timestamp] | None]:
    """Identity and date span of a spike (its window) or a shift (its date, widened)."""
    try:
        if type == "spike":
            span = (pd.Timestamp(payload["start"]), pd.Timestamp(payload["end"]))
            return (type, str(sku), str(channel)), span
        if type == "volatility_shift":
            when = pd.Timestamp(payload["changed_at"])
            half = pd.Timedelta(days=SHIFT_REPEAT_DAYS / 2)
            key = (f"{type}|{payload.get('direction', '')}", str(sku), str(channel))
            return key, (when - half, when + half)
    except (KeyError, TypeError, ValueError):
        pass  # an alert without its dates is compared by dedup key only
    return (type, str(sku), str(channel)), None


def _describe(alert: dict[str, Any]) -> str:
    where = "/".join(str(v) for v in (alert.get("sku"), alert.get("channel")) if v not in (None, np.nan))
    return f"{where} {json.dumps(alert.get('payload'), default=str)[:200]}"
