"""The training lock in the result store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from forecasting.persistence import ResultStore
from forecasting.persistence import tables as t


def test_training_lock(store: ResultStore) -> None:
    assert store.acquire_lock("training", "host-a:1")
    assert not store.acquire_lock("training", "host-b:2")
    assert store.acquire_lock("training", "host-a:1")  # re-entrant for the holder
    store.release_lock("training", "host-b:2")  # not the holder: no effect
    assert not store.acquire_lock("training", "host-b:2")
    assert store.acquire_lock("other", "host-b:2")
    # host-a "crashes": its heartbeat gets older than stale_after_s and host-b takes over.
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(t.training_lock)
            .where(t.training_lock.c.name == "training")
            .values(heartbeat=datetime.now(UTC) - timedelta(hours=7))
        )
    assert store.acquire_lock("training", "host-b:2", stale_after_s=6 * 3600)
    assert not store.heartbeat_lock("training", "host-a:1")
    assert store.heartbeat_lock("training", "host-b:2")
    store.release_lock("training", "host-b:2")
    assert store.acquire_lock("training", "host-a:1")
    with pytest.raises(ValueError, match="stale_after_s"):
        store.acquire_lock("training", "x", stale_after_s=0)
