"""Policies keep the SKU's minimum order quantity and pack size.

Order advice for another stock position (the API's ``/v1/replenishment``) must round the quantity the
way the published policy did; rows published before this revision have NULL (no MOQ, packs of 1).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("moq", sa.Double))
    op.add_column("policies", sa.Column("pack_size", sa.Double))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("pack_size")
        batch.drop_column("moq")
