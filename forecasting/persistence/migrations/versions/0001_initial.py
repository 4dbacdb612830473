"""Initial schema: runs, forecasts, policies, segments, alerts, outbox, drift reports, API keys, lock.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("published_at", sa.DateTime),
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
    )
    op.create_index("ix_runs_status_published", "runs", ["status", "published_at"])

    op.create_table(
        "forecasts",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sku", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(128), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("mean", sa.Double, nullable=False),
        sa.Column("quantiles", sa.JSON, nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
    )

    op.create_table(
        "policies",
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
    )

    op.create_table(
        "segments",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sku", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(128), primary_key=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("abc", sa.String(8)),
        sa.Column("xyz", sa.String(8)),
        sa.Column("pattern", sa.String(32)),
        sa.Column("policy", sa.String(64)),
        sa.Column("figures", sa.JSON),
    )
    # segment_history reads one SKU across every run.
    op.create_index("ix_segments_sku_channel", "segments", ["sku", "channel"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("sku", sa.String(128)),
        sa.Column("channel", sa.String(128)),
        sa.Column("payload", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime),
        sa.Column("dedup_key", sa.String(255)),
        sa.UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
    )
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])

    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("delivered_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("alert_id", "url", name="uq_alert_outbox_alert_url"),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["delivered_at", "next_attempt_at"])

    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("summary", sa.JSON),
        sa.Column("html", sa.Text, nullable=False),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
        sa.Column("last_used_at", sa.DateTime),
        sa.CheckConstraint("scope IN ('read', 'admin')", name="ck_api_keys_scope"),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])

    op.create_table(
        "training_lock",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "training_lock", "api_keys", "drift_reports", "alert_outbox", "alerts",
        "segments", "policies", "forecasts", "runs",
    ):
        op.drop_table(table)
