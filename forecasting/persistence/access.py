"""API keys (stored hashed) and the named lock that keeps one training pipeline running at a time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from forecasting.persistence import tables as t
from forecasting.persistence.base import StoreBase
from forecasting.persistence.records import NotFoundError

log = logging.getLogger(__name__)

KEY_PREFIX = "bck"
# Writing last_used_at on every request would make each authenticated read a write; once a minute
# is precise enough to spot unused keys.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_NAME_LENGTH = 128
_KEY_COLUMNS = ["id", "name", "scope", "prefix", "created_at", "revoked_at", "last_used_at"]


def _digest(salt: str, secret: str) -> str:
    # The secret is 256 random bits, so one salted SHA-256 is as strong as a slow KDF here and keeps
    # verification cheap on every API request.
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _split_key(plaintext: str) -> tuple[str, str] | None:
    parts = plaintext.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class AccessMixin(StoreBase):
    """API keys and the training lock."""

    def create_api_key(self, scope: Literal["read", "admin"], name: str = "") -> tuple[int, str]:
        """Create an API key; only its salted hash is stored.

        Args:
            scope: ``read`` (forecasts, policies, reports) or ``admin`` (also retrain, manage).
            name: Who or what the key is for.

        Returns:
            ``(key_id, plaintext)``. The plaintext (``bck_<prefix>_<secret>``) is shown this once and
            cannot be recovered.

        Raises:
            ValueError: If ``scope`` is not ``read`` or ``admin``.
        """
        if scope not in t.API_KEY_SCOPES:
            raise ValueError(f"The API key 'scope' must be one of {list(t.API_KEY_SCOPES)}. Got {scope!r}.")
        if len(name) > _MAX_NAME_LENGTH:
            raise ValueError(
                f"The API key 'name' must be at most {_MAX_NAME_LENGTH} characters. Got {len(name)}. "
                "Fix: use a shorter name, e.g. 'ims-prod'."
            )
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with self._ready().begin() as conn:
            key_id = conn.execute(
                sa.insert(t.api_keys).returning(t.api_keys.c.id),
                {
                    "name": name,
                    "scope": scope,
                    "prefix": prefix,
                    "salt": salt,
                    "hash": _digest(salt, secret),
                    "created_at": t.utcnow(),
                },
            ).scalar_one()
        return int(key_id), f"{KEY_PREFIX}_{prefix}_{secret}"

    def verify_api_key(self, plaintext: str) -> str | None:
        """The scope of a valid, unrevoked key; None for anything else.

        The hash comparison is constant-time, and a key with an unknown prefix costs the same hash as
        a known one.
        """
        parts = _split_key(plaintext or "")
        if parts is None:
            return None
        prefix, secret = parts
        k = t.api_keys.c
        with self._ready().connect() as conn:
            rows = conn.execute(
                sa.select(k.id, k.scope, k.salt, k.hash, k.last_used_at).where(
                    k.prefix == prefix, k.revoked_at.is_(None)
                )
            ).all()
        match = None
        # An unknown prefix still hashes once against a dummy, so timing does not reveal prefixes.
        candidates: list[tuple[str, str, Any]] = [(r.salt, r.hash, r) for r in rows] or [
            ("00" * 16, "0" * 64, None)
        ]
        for salt, stored, row in candidates:
            if hmac.compare_digest(_digest(salt, secret), stored) and row is not None:
                match = row
        if match is None:
            return None
        now = t.utcnow()
        if match.last_used_at is None or now - match.last_used_at >= _LAST_USED_RESOLUTION:
            try:
                with self._ready().begin() as conn:
                    conn.execute(sa.update(t.api_keys).where(k.id == match.id).values(last_used_at=now))
            except sa.exc.OperationalError:
                # SQLite allows one writer: during a long publish this bookkeeping waits out the busy
                # timeout and fails; the key is still valid, so the request must not fail with it.
                log.warning("Could not record the use of API key %d (store busy)", match.id)
        return str(match.scope)

    def list_api_keys(self) -> pd.DataFrame:
        """Every key, newest first: ``id, name, scope, prefix, created_at, revoked_at, last_used_at``."""
        k = t.api_keys.c
        with self._ready().connect() as conn:
            rows = conn.execute(sa.select(*(k[c] for c in _KEY_COLUMNS)).order_by(k.id.desc())).all()
        frame = pd.DataFrame(rows, columns=_KEY_COLUMNS)
        for col in ("created_at", "revoked_at", "last_used_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
        return frame

    def revoke_api_key(self, key_id: int) -> None:
        """Revoke a key so it no longer verifies; revoking twice keeps the first revocation time.

        Raises:
            NotFoundError: If there is no key ``key_id``.
        """
        k = t.api_keys.c
        with self._ready().begin() as conn:
            if conn.execute(sa.select(k.id).where(k.id == key_id)).first() is None:
                raise NotFoundError(
                    f"There is no API key with id {key_id}. Fix: see the ids with `blendcast api-key list`."
                )
            conn.execute(
                sa.update(t.api_keys)
                .where(k.id == key_id, k.revoked_at.is_(None))
                .values(revoked_at=t.utcnow())
            )

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
