"""Fixtures of the result store: one fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL tests use ``BLENDCAST_TEST_POSTGRES_URL`` (default: the local server's ``test``
database) and run in a schema of their own, created for the test and dropped after it, so they can
be re-run and never touch other tests' tables in the same database. Without a server they are
skipped, except under ``CI=true`` where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from forecasting.persistence import ResultStore

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of the PostgreSQL test server; skips (or fails under CI=true) when it is unreachable."""
    url = os.environ.get("BLENDCAST_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = (
            f"PostgreSQL is not reachable at {sa.make_url(url).render_as_string(hide_password=True)} "
            f"({type(exc.orig).__name__}). Start it or set BLENDCAST_TEST_POSTGRES_URL."
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a fresh schema, dropped (with its tables) after the test."""
    schema = f"bc_store_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty result store database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[ResultStore]:
    """A :class:`ResultStore` on an empty database (schema created on first use)."""
    result_store = ResultStore(store_url)
    yield result_store
    result_store.dispose()
