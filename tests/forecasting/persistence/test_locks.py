"""The training lock in the result store (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
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


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_holder_on_this_host_is_taken_over_at_once(store: ResultStore) -> None:
    from forecasting.persistence.locks import holder_alive, make_holder

    dead = f"{socket.gethostname()}:{_dead_pid()}:crashed"
    assert holder_alive(dead) is False
    assert holder_alive(make_holder("me")) is True
    assert holder_alive("other-host:1:x") is None
    assert store.acquire_lock("training", dead)
    info = store.lock_info("training")
    assert info is not None and info.holder == dead and info.alive is False
    assert "dead" in info.describe()
    # The heartbeat is fresh, but the holder is known dead: taken over without waiting.
    assert store.acquire_lock("training", make_holder("next"), stale_after_s=6 * 3600)
    assert not store.heartbeat_lock("training", dead)


def test_a_live_holder_keeps_its_lock_and_another_host_waits_for_the_heartbeat(store: ResultStore) -> None:
    from forecasting.persistence.locks import make_holder

    live = make_holder("running")
    assert store.acquire_lock("training", live)
    assert not store.acquire_lock("training", f"{socket.gethostname()}:{_dead_pid()}:late")
    remote = "far-away-host:4242:x"
    store.release_lock("training", live)
    assert store.acquire_lock("training", remote)
    assert not store.acquire_lock("training", live, stale_after_s=60)  # cannot check: waits
    with store.engine.begin() as conn:
        conn.execute(sa.update(t.training_lock).values(heartbeat=datetime.now(UTC) - timedelta(seconds=61)))
    assert store.acquire_lock("training", live, stale_after_s=60)


def test_break_lock_removes_any_holder(store: ResultStore) -> None:
    assert store.break_lock("training") is None
    assert store.acquire_lock("training", "far-away-host:1:x")
    broken = store.break_lock("training")
    assert broken is not None and broken.holder == "far-away-host:1:x"
    assert store.lock_info("training") is None


def test_a_reused_pid_does_not_keep_a_dead_holders_lock(store: ResultStore) -> None:
    import os

    from forecasting.persistence.locks import holder_alive

    # A lock taken ten years ago by "this PID": the process now using it started later, so the PID was
    # reused and the holder is dead; a lock taken now by it is held by a live process.
    pid = os.getppid()  # not this process (which always counts as alive)
    host = socket.gethostname()
    assert holder_alive(f"{host}:{pid}:old", since=datetime.now(UTC) - timedelta(days=3650)) is False
    assert holder_alive(f"{host}:{pid}:new", since=datetime.now(UTC)) is True
    assert holder_alive(f"{host}:{pid}:unknown") is True
