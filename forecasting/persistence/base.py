"""Connection handling shared by every part of the result store."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from forecasting.infrastructure.settings import Settings
from forecasting.persistence.migrate import upgrade_schema

# Seconds a SQLite writer waits for another writer's lock before failing.
_SQLITE_BUSY_TIMEOUT_S = 60
# Tries at switching a new file to WAL: that switch needs the file alone and skips the busy timeout.
_WAL_ATTEMPTS = 200


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers keep reading the last committed run while a publish writes the next one;
    # without it a large publish locks readers out when it spills to disk.
    for attempt in range(_WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``: SQLite in WAL mode (directory created) or a pre-pinged server pool."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"The result store supports SQLite and PostgreSQL. Got a '{parsed.get_backend_name()}' URL. "
            "Fix: set BLENDCAST_DATABASE_URL to a postgresql+psycopg:// URL or leave it empty for SQLite."
        )
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # A ``?timeout=<seconds>`` in the URL overrides the default busy timeout.
        connect_args = {} if "timeout" in parsed.query else {"timeout": _SQLITE_BUSY_TIMEOUT_S}
        engine = sa.create_engine(parsed, connect_args=connect_args)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


class StoreBase:
    """The URL, the lazily created engine and the schema upgrade on first use.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////var/blendcast/blendcast.db`` or
            ``postgresql+psycopg://user@host/db``. Nothing connects until the first call.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: sa.Engine | None = None
        self._upgraded = False
        self._init_lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The store at ``settings.resolved_database_url`` (SQLite under ``BLENDCAST_HOME`` by default)."""
        return cls(settings.resolved_database_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sa.make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, created on first access (schema not yet checked)."""
        if self._engine is None:
            with self._init_lock:
                if self._engine is None:
                    self._engine = make_engine(self.url)
        return self._engine

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is current.

        Safe to call from several processes at once.
        """
        upgrade_schema(self.engine)
        self._upgraded = True

    def ping(self) -> bool:
        """True if the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection (e.g. before forking or at the end of a test)."""
        if self._engine is not None:
            self._engine.dispose()

    def _ready(self) -> sa.Engine:
        """The engine, after upgrading the schema once per store object."""
        if not self._upgraded:
            with self._init_lock:
                if not self._upgraded:
                    upgrade_schema(self.engine)
                    self._upgraded = True
        return self.engine

    def _insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` for ``table`` in this database's dialect."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()  # make_engine admits only the two

    @staticmethod
    def _bulk_insert(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
        """Insert many rows fast in the caller's transaction: COPY on PostgreSQL, executemany elsewhere.

        Values must already be in their stored form (ISO date strings, JSON text) because this
        bypasses SQLAlchemy's type processing.
        """
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        if conn.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            if raw is None:
                raise RuntimeError("The database connection was closed in the middle of a publish.")
            with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})', rows)
