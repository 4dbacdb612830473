"""Alembic environment of the result store.

The store runs migrations programmatically (``forecasting.persistence.migrate.upgrade_schema``) and hands
over its own connection in ``config.attributes["connection"]``, already inside the transaction that
holds the migration lock; the ``sqlalchemy.url`` fallback serves the ``alembic`` command line.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def _run(connection: sa.Connection) -> None:
    # Batch mode lets later revisions ALTER tables on SQLite, which lacks most ALTER TABLE forms.
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Run the pending revisions on the given connection, or on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("The result store has no offline (SQL script) migrations; run them on a database.")
run_migrations()
