"""The named lock that keeps one training pipeline running at a time (a row per lock, with heartbeat)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from forecasting.persistence import tables as t
from forecasting.persistence.base import StoreBase


class LocksMixin(StoreBase):
    """Named locks held by one holder; a crashed holder's lock is taken over once its heartbeat is stale."""

    def acquire_lock(self, name: str, holder: str, stale_after_s: float = 6 * 3600) -> bool:
        """Take the named lock, or take it over if its heartbeat is older than ``stale_after_s``.

        Args:
            name: Lock name, e.g. ``"training"``.
            holder: Who takes it (host, pid, run); the same holder acquiring again refreshes it.
            stale_after_s: Seconds without heartbeat after which a crashed holder's lock is taken over.

        Returns:
            True if ``holder`` now holds the lock, False if someone else holds a live one.
        """
        if stale_after_s <= 0:
            raise ValueError(f"The 'stale_after_s' must be > 0 seconds. Got {stale_after_s}.")
        now = t.utcnow()
        lock = t.training_lock.c
        with self._ready().begin() as conn:
            inserted = conn.execute(
                self._insert_ignore(t.training_lock),
                {"name": name, "holder": holder, "acquired_at": now, "heartbeat": now},
            ).rowcount
            if inserted == 1:
                return True
            # One conditional UPDATE decides atomically between two processes taking over at once.
            taken = conn.execute(
                sa.update(t.training_lock)
                .where(
                    lock.name == name,
                    sa.or_(lock.holder == holder, lock.heartbeat < now - timedelta(seconds=stale_after_s)),
                )
                .values(
                    acquired_at=sa.case((lock.holder == holder, lock.acquired_at), else_=now),
                    holder=holder,
                    heartbeat=now,
                )
            ).rowcount
        return bool(taken == 1)

    def heartbeat_lock(self, name: str, holder: str) -> bool:
        """Refresh the heartbeat of a held lock; False means ``holder`` no longer holds it."""
        lock = t.training_lock.c
        with self._ready().begin() as conn:
            n = conn.execute(
                sa.update(t.training_lock)
                .where(lock.name == name, lock.holder == holder)
                .values(heartbeat=t.utcnow())
            ).rowcount
        return bool(n == 1)

    def release_lock(self, name: str, holder: str) -> None:
        """Release the lock if ``holder`` holds it; someone else's lock is left alone."""
        lock = t.training_lock.c
        with self._ready().begin() as conn:
            conn.execute(sa.delete(t.training_lock).where(lock.name == name, lock.holder == holder))
