"""Schema migrations of the result store, run programmatically with Alembic.

The migration scripts ship inside the package (``forecasting/persistence/migrations``), so an installed
Blendcast upgrades its database without an ``alembic.ini`` or a source checkout. To write a new
revision from a checkout::

    python -c "from alembic import command; from forecasting.persistence.migrate import alembic_config; \\
        command.revision(alembic_config('sqlite:///dev.db'), 'add x', rev_id='0002')"
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number: every Blendcast process that migrates a PostgreSQL database takes this
# transaction-level advisory lock, so two processes starting at once migrate one after the other.
_PG_MIGRATION_LOCK = 0x626C656E64636173


def alembic_config(url: str = "") -> Config:
    """An Alembic ``Config`` pointing at the packaged migration scripts.

    Args:
        url: Database URL for the ``alembic`` command-line path; the store passes its connection.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision of the packaged scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"No migration scripts found in {MIGRATIONS_DIR}. Reinstall Blendcast.")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _upgrade_locked(engine: sa.Engine, cfg: Config) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return
    if engine.dialect.name == "sqlite":
        # BEGIN IMMEDIATE takes SQLite's write lock up front, so a second process waits here
        # (busy timeout) and then finds the schema at head; the DDL commits or rolls back as one.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        return
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def upgrade_schema(engine: sa.Engine, attempts: int = 3) -> None:
    """Bring the database to the head revision; a no-op when it is there already.

    Safe when several processes start at once: the migration runs under a lock (PostgreSQL advisory
    lock, SQLite write lock) and, for other databases, a failed attempt is retried after re-reading
    the version table.

    Args:
        engine: Engine of the result store.
        attempts: Tries before the last error is raised.
    """
    head = head_revision()
    for attempt in range(1, attempts + 1):
        current = current_revision(engine)
        if current == head:
            return
        log.info("Upgrading the result store schema from %s to %s", current or "empty", head)
        try:
            _upgrade_locked(engine, alembic_config())
            return
        except sa.exc.DBAPIError:
            # Another process may have migrated between our check and our lock (databases
            # without a migration lock): then the schema is at head and there is nothing to do.
            if current_revision(engine) == head:
                return
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)
