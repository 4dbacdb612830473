"""SQLAlchemy Core tables of the result store.

These describe the schema *at head* for queries; the schema itself is created and changed only by
the Alembic migrations in ``forecasting/persistence/migrations/versions``, which never import this module
(a migration is a frozen snapshot of its own revision).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

API_KEY_SCOPES: tuple[str, ...] = ("read", "admin")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC ``datetime``.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` answers in the session's zone; storing
    naive UTC everywhere makes both backends return the same values. Naive inputs are taken as UTC.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value  # type: ignore[no-any-return]

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def utcnow() -> datetime:
    """The current time as an aware UTC ``datetime``."""
    return datetime.now(UTC)


metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("published_at", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(128)),
    sa.Column("model_uri", sa.Text),
    sa.Column("data_hash", sa.String(128), nullable=False),
    sa.Column("horizon", sa.Integer),
    sa.Column("quantiles", sa.JSON),
    sa.Column("metrics", sa.JSON),
    sa.Column("params", sa.JSON),
    sa.Column("notes", sa.Text),
    sa.CheckConstraint("status IN ('running', 'published', 'failed')", name="ck_runs_status"),
    sa.Index("ix_runs_status_published", "status", "published_at"),
)

# Quantile values are one JSON array per row, in the order of ``runs.quantiles``: a run may use any
# set of levels without a schema change, and JSON text keeps every float exactly (repr round-trips).
forecasts = sa.Table(
    "forecasts",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("mean", sa.Double, nullable=False),
    sa.Column("quantiles", sa.JSON, nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("abc", sa.String(8)),
    sa.Column("xyz", sa.String(8)),
    sa.Column("pattern", sa.String(32)),
    sa.Column("service_level", sa.Double),
    sa.Column("safety_stock", sa.Double),
    sa.Column("reorder_point", sa.Double),
    sa.Column("order_up_to", sa.Double),
    sa.Column("order_qty", sa.Double),
    sa.Column("lead_time_mean", sa.Double),
    sa.Column("lead_time_p90", sa.Double),
    sa.Column("reasons", sa.JSON),
    sa.Column("extra", sa.JSON),
    # Added by revision 0002: the order rounding of the SKU, so advice for any stock rounds alike.
    sa.Column("moq", sa.Double),
    sa.Column("pack_size", sa.Double),
)

segments = sa.Table(
    "segments",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("abc", sa.String(8)),
    sa.Column("xyz", sa.String(8)),
    sa.Column("pattern", sa.String(32)),
    sa.Column("policy", sa.String(64)),
    sa.Column("figures", sa.JSON),
    sa.Index("ix_segments_sku_channel", "sku", "channel"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("sku", sa.String(128)),
    sa.Column("channel", sa.String(128)),
    sa.Column("payload", sa.JSON),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("dedup_key", sa.String(255)),
    sa.UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
    sa.Index("ix_alerts_created_at", "created_at"),
)

alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("alert_id", "url", name="uq_alert_outbox_alert_url"),
    sa.Index("ix_alert_outbox_due", "delivered_at", "next_attempt_at"),
)

drift_reports = sa.Table(
    "drift_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("summary", sa.JSON),
    sa.Column("html", sa.Text, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
    sa.CheckConstraint("scope IN ('read', 'admin')", name="ck_api_keys_scope"),
    sa.Index("ix_api_keys_prefix", "prefix"),
)

training_lock = sa.Table(
    "training_lock",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat", UTCDateTime, nullable=False),
)
