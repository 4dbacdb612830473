"""The named lock that keeps one training pipeline running at a time (a row per lock, with heartbeat).

A holder is written ``host:pid:tag``. A lock is taken over when its holder is known dead (same host,
no process with that PID) at once, or when its heartbeat is older than ``stale_after_s`` (a holder on
another host cannot be checked, so its heartbeat is the only sign of life).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from forecasting.persistence import tables as t
from forecasting.persistence.base import StoreBase


def make_holder(tag: str) -> str:
    """The holder string of this process: ``host:pid:tag``."""
    return f"{socket.gethostname()}:{os.getpid()}:{tag}"


def _process_start(pid: int) -> datetime | None:
    """When process ``pid`` started (UTC), from Linux's /proc; None elsewhere or if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return datetime.fromtimestamp(boot + int(fields[19]) / ticks, UTC)


def holder_alive(holder: str, since: datetime | None = None) -> bool | None:
    """Whether the process named by a ``host:pid:...`` holder runs: None when it cannot be told.

    Only a holder on this host can be checked (a signal 0 to its PID); another host, or a holder
    string without a PID, answers None. With ``since`` (when the lock was taken), a process with that
    PID started later is a reused PID, so the holder is dead.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    started = _process_start(pid) if since is not None else None
    # A process started after the lock was taken got a reused PID: the holder is gone.
    return started is None or since is None or started <= since + timedelta(seconds=2)


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock and since when.

    Attributes:
        name: Lock name.
        holder: ``host:pid:tag`` of the holder.
        acquired_at: When it was taken (UTC).
        heartbeat: The holder's last sign of life (UTC).
        alive: Whether the holder's process runs (None: on another host, cannot be told).
    """

    name: str
    holder: str
    acquired_at: datetime
    heartbeat: datetime
    alive: bool | None

    def age_s(self) -> float:
        """Seconds since the last heartbeat."""
        return (t.utcnow() - self.heartbeat).total_seconds()

    def describe(self) -> str:
        """One line for messages: holder, age of heartbeat and liveness."""
        state = {True: "running", False: "dead", None: "on another host, cannot be checked"}[self.alive]
        return (f"'{self.name}' held by {self.holder} (process {state}) since "
                f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {self.age_s():.0f} s ago")


class LocksMixin(StoreBase):
    """Named locks held by one holder; a dead or silent holder's lock is taken over."""

    def acquire_lock(self, name: str, holder: str, stale_after_s: float = 6 * 3600) -> bool:
        """Take the named lock, or take it over if its holder is dead or its heartbeat is stale.

        Args:
            name: Lock name, e.g. ``"training"``.
            holder: Who takes it (``host:pid:tag``); the same holder acquiring again refreshes it.
            stale_after_s: Seconds without heartbeat after which a holder that cannot be checked
                (another host) is taken for crashed.

        Returns:
            True if ``holder`` now holds the lock, False if someone else holds a live one.
        """
        if stale_after_s <= 0:
            raise ValueError(f"The 'stale_after_s' must be > 0 seconds. Got {stale_after_s}.")
        now = t.utcnow()
        lock = t.training_lock.c
        current = self.lock_info(name)
        # A holder known dead is matched by its exact string: two processes taking over at once both
        # aim their UPDATE at it and only the first one's matches.
        dead = [current.holder] if current is not None and current.alive is False else []
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
                    sa.or_(
                        lock.holder == holder,
                        lock.holder.in_(dead),
                        lock.heartbeat < now - timedelta(seconds=stale_after_s),
                    ),
                )
                .values(
                    acquired_at=sa.case((lock.holder == holder, lock.acquired_at), else_=now),
                    holder=holder,
                    heartbeat=now,
                )
            ).rowcount
        return bool(taken == 1)

    def lock_info(self, name: str) -> LockInfo | None:
        """Who holds the named lock (None when it is free)."""
        lock = t.training_lock.c
        with self._ready().connect() as conn:
            row = conn.execute(
                sa.select(lock.holder, lock.acquired_at, lock.heartbeat).where(lock.name == name)
            ).first()
        if row is None:
            return None
        return LockInfo(name, row.holder, row.acquired_at, row.heartbeat,
                        holder_alive(row.holder, since=row.acquired_at))

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

    def break_lock(self, name: str) -> LockInfo | None:
        """Remove the named lock whoever holds it (an operator's ``blendcast unlock --force``).

        Returns:
            The lock as it was, or None if it was free.
        """
        info = self.lock_info(name)
        if info is not None:
            with self._ready().begin() as conn:
                conn.execute(sa.delete(t.training_lock).where(t.training_lock.c.name == name,
                                                             t.training_lock.c.holder == info.holder))
        return info
