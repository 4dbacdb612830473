"""API keys: created once in plaintext, stored as a salted hash, verified in constant time, revoked."""

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


class KeysMixin(StoreBase):
    """API keys of the HTTP API (``read`` or ``admin`` scope)."""

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
