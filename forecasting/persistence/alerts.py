"""Alerts with their webhook outbox, and drift reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from forecasting.persistence import tables as t
from forecasting.persistence.base import StoreBase
from forecasting.persistence.frames import to_jsonable
from forecasting.persistence.records import Delivery, DriftReport, NotFoundError

# A failed delivery without an explicit next attempt is retried after 1, 2, 4, ... minutes (at most
# one hour apart) and given up after this many attempts; the alert itself stays listed.
MAX_DELIVERY_ATTEMPTS = 8
_BACKOFF_BASE = timedelta(minutes=1)
_BACKOFF_MAX = timedelta(hours=1)
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
# Column widths of the alerts table, checked before inserting so a batch fails whole and early.
_MAX_LENGTHS = {"type": 64, "sku": 128, "channel": 128, "dedup_key": 255}

_ALERT_COLUMNS = [
    "id",
    "type",
    "severity",
    "sku",
    "channel",
    "payload",
    "created_at",
    "delivered_at",
    "dedup_key",
]


def _check_alert(alert: dict[str, Any], index: int) -> None:
    for key in ("type", "severity"):
        if not alert.get(key):
            raise ValueError(
                f"Alert {index} has no '{key}'. Expected keys type, severity, sku, channel, payload "
                f"(dedup_key optional). Got keys {sorted(alert)}."
            )
    if alert["severity"] not in SEVERITIES:
        raise ValueError(
            f"The 'severity' of alert {index} must be one of {list(SEVERITIES)}. Got {alert['severity']!r}."
        )
    for key, limit in _MAX_LENGTHS.items():
        value = alert.get(key)
        if value is not None and len(str(value)) > limit:
            raise ValueError(
                f"The '{key}' of alert {index} must be at most {limit} characters. Got {len(str(value))}. "
                "Fix: shorten it (a dedup_key can be a hash)."
            )


class AlertsMixin(StoreBase):
    """Alerts, their delivery outbox and drift reports."""

    def add_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[int]:
        """Store new alerts, skipping any whose ``dedup_key`` is already stored (or repeated here).

        Args:
            alerts: Dicts with ``type``, ``severity`` (info|warning|critical), ``sku``, ``channel``,
                ``payload`` (JSON-able) and optionally ``dedup_key``.

        Returns:
            Ids of the alerts actually inserted, in input order (skipped duplicates have none).

        Raises:
            ValueError: If an alert lacks ``type`` or has an unknown ``severity`` (nothing is stored).
        """
        for i, alert in enumerate(alerts):
            _check_alert(alert, i)
        ids: list[int] = []
        now = t.utcnow()
        with self._ready().begin() as conn:
            for alert in alerts:
                values = {
                    "type": str(alert["type"]),
                    "severity": str(alert["severity"]),
                    "sku": alert.get("sku"),
                    "channel": alert.get("channel"),
                    "payload": to_jsonable(alert.get("payload") or {}),
                    "created_at": now,
                    "dedup_key": alert.get("dedup_key") or None,
                }
                # ON CONFLICT DO NOTHING makes the dedup race-free between concurrent writers.
                new_id = conn.execute(self._insert_ignore(t.alerts).returning(t.alerts.c.id), values).scalar()
                if new_id is not None:
                    ids.append(int(new_id))
        return ids

    def list_alerts(
        self, since: datetime | None = None, type: str | None = None, limit: int = 500
    ) -> pd.DataFrame:
        """The newest alerts first.

        Args:
            since: Only alerts created at or after this time (naive = UTC).
            type: Only alerts of this type.
            limit: At most this many rows.

        Returns:
            Columns ``id, type, severity, sku, channel, payload, created_at, delivered_at, dedup_key``;
            timestamps are UTC.
        """
        a = t.alerts.c
        query = sa.select(*(a[c] for c in _ALERT_COLUMNS)).order_by(a.id.desc()).limit(limit)
        if since is not None:
            query = query.where(a.created_at >= since)
        if type is not None:
            query = query.where(a.type == type)
        with self._ready().connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=_ALERT_COLUMNS)
        for col in ("created_at", "delivered_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
        return frame

    def enqueue_deliveries(self, alert_ids: Sequence[int], urls: Sequence[str]) -> None:
        """Queue every alert for every webhook URL, due now; an already queued pair is left as is."""
        now = t.utcnow()
        rows = [
            {"alert_id": int(a), "url": u, "attempts": 0, "next_attempt_at": now}
            for a in alert_ids
            for u in urls
        ]
        if not rows:
            return
        with self._ready().begin() as conn:
            conn.execute(self._insert_ignore(t.alert_outbox), rows)

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """Undelivered outbox rows whose next attempt is due at ``now``, oldest first."""
        o, a = t.alert_outbox.c, t.alerts.c
        query = (
            sa.select(
                o.id,
                o.alert_id,
                o.url,
                o.attempts,
                o.next_attempt_at,
                o.last_error,
                a.type,
                a.severity,
                a.sku,
                a.channel,
                a.payload,
                a.created_at,
            )
            .join_from(t.alert_outbox, t.alerts, a.id == o.alert_id)
            .where(o.delivered_at.is_(None), o.next_attempt_at.is_not(None), o.next_attempt_at <= now)
            .order_by(o.next_attempt_at, o.id)
            .limit(limit)
        )
        with self._ready().connect() as conn:
            rows = conn.execute(query).all()
        return [
            Delivery(
                id=r.id,
                alert_id=r.alert_id,
                url=r.url,
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                last_error=r.last_error,
                alert={
                    "id": r.alert_id,
                    "type": r.type,
                    "severity": r.severity,
                    "sku": r.sku,
                    "channel": r.channel,
                    "payload": r.payload,
                    "created_at": r.created_at,
                },
            )
            for r in rows
        ]

    def record_delivery(
        self, outbox_id: int, ok: bool, error: str = "", next_attempt_at: datetime | None = None
    ) -> None:
        """Record the outcome of one delivery attempt.

        Args:
            outbox_id: ``Delivery.id``.
            ok: True if the receiver accepted it; the alert is then marked delivered.
            error: What went wrong, when not ok.
            next_attempt_at: When to retry; None uses exponential backoff (1 min doubling to 1 h) and
                gives up after ``MAX_DELIVERY_ATTEMPTS`` attempts.

        Raises:
            NotFoundError: If the outbox row does not exist.
        """
        now = t.utcnow()
        o = t.alert_outbox.c
        with self._ready().begin() as conn:
            row = conn.execute(sa.select(o.alert_id, o.attempts).where(o.id == outbox_id)).first()
            if row is None:
                raise NotFoundError(
                    f"Outbox row {outbox_id} does not exist. Use an id from due_deliveries()."
                )
            if ok:
                conn.execute(
                    sa.update(t.alert_outbox)
                    .where(o.id == outbox_id)
                    .values(delivered_at=now, next_attempt_at=None, last_error=None)
                )
                conn.execute(
                    sa.update(t.alerts)
                    .where(t.alerts.c.id == row.alert_id, t.alerts.c.delivered_at.is_(None))
                    .values(delivered_at=now)
                )
                return
            attempts = row.attempts + 1
            if next_attempt_at is None and attempts < MAX_DELIVERY_ATTEMPTS:
                next_attempt_at = now + min(_BACKOFF_BASE * 2 ** (attempts - 1), _BACKOFF_MAX)
            conn.execute(
                sa.update(t.alert_outbox)
                .where(o.id == outbox_id)
                .values(
                    attempts=attempts, next_attempt_at=next_attempt_at, last_error=error[:2000] or "failed"
                )
            )

    def save_drift_report(self, run_id: int | None, summary: dict[str, Any], html: str) -> int:
        """Store a drift report and return its id."""
        with self._ready().begin() as conn:
            report_id = conn.execute(
                sa.insert(t.drift_reports).returning(t.drift_reports.c.id),
                {"run_id": run_id, "created_at": t.utcnow(), "summary": to_jsonable(summary), "html": html},
            ).scalar_one()
        return int(report_id)

    def get_drift_report(self, report_id: int | None = None) -> DriftReport | None:
        """The report ``report_id``, or the newest one when None; None if there is no such report."""
        d = t.drift_reports.c
        query = sa.select(t.drift_reports)
        query = (
            query.where(d.id == report_id) if report_id is not None else query.order_by(d.id.desc()).limit(1)
        )
        with self._ready().connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return DriftReport(
            id=row.id, run_id=row.run_id, created_at=row.created_at, summary=row.summary or {}, html=row.html
        )
