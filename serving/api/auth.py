"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, scopes read/admin.

Keys are created with ``blendcast api-key create --scope read|admin`` and stored hashed. Verifying
one costs a database query, so results are cached in memory by the SHA-256 of the key (never the key
itself) for ``ttl_s`` seconds; a revoked key therefore stops working within that time. Unknown keys
are cached for a shorter time so a key created a moment ago starts working quickly. Keys never reach
a log: error messages do not repeat them.

``/health``, ``/ready`` and ``/metrics`` need no key: load balancers and Prometheus scrape them, and
they reveal nothing but liveness, readiness and counters.
"""

from __future__ import annotations

import hashlib
import threading
import time

from forecasting.persistence import ResultStore
from serving.api.errors import ApiError

SCOPES = ("read", "admin")
# What each scope may do: admin keys can also read.
_GRANTS = {"read": {"read"}, "admin": {"read", "admin"}}
DEFAULT_TTL_S = 60.0
UNKNOWN_TTL_S = 5.0
_MAX_CACHE = 10_000

# Documented in the OpenAPI schema on every /v1 operation (either scheme works).
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "API key as a bearer token."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "API key header."},
}


class KeyVerifier:
    """Verifies API keys against the store, caching results by key hash.

    Args:
        store: The result store holding the hashed keys.
        ttl_s: Seconds a verified key's scope is cached.
        unknown_ttl_s: Seconds an unknown key is remembered as unknown.
    """

    def __init__(
        self, store: ResultStore, ttl_s: float = DEFAULT_TTL_S, unknown_ttl_s: float = UNKNOWN_TTL_S
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.unknown_ttl_s = unknown_ttl_s
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(key: str) -> str:
        """The cache key of an API key (its SHA-256)."""
        return hashlib.sha256(key.encode()).hexdigest()

    def cached(self, key: str) -> tuple[bool, str | None]:
        """``(hit, scope)`` from the cache, without touching the database."""
        entry = self._cache.get(self.fingerprint(key))
        if entry is None or entry[1] < time.monotonic():
            return False, None
        return True, entry[0]

    def verify(self, key: str) -> str | None:
        """The key's scope, or None if it is unknown or revoked (database on a cache miss)."""
        hit, scope = self.cached(key)
        if hit:
            return scope
        scope = self.store.verify_api_key(key)
        ttl = self.ttl_s if scope is not None else self.unknown_ttl_s
        with self._lock:
            if len(self._cache) >= _MAX_CACHE:
                now = time.monotonic()
                self._cache = {k: v for k, v in self._cache.items() if v[1] >= now}
                if len(self._cache) >= _MAX_CACHE:
                    self._cache.clear()
            self._cache[self.fingerprint(key)] = (scope, time.monotonic() + ttl)
        return scope


def presented_key(authorization: str | None, header: str | None) -> str:
    """The key sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

    Raises:
        ApiError: 401 when neither header carries a key.
    """
    key = None
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            key = credentials.strip()
    key = key or (header.strip() if header else None)
    if not key:
        raise ApiError(
            401,
            "Missing API key. Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'. "
            "Fix: create one with `blendcast api-key create --scope read`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


def check_scope(scope: str | None, needed: str) -> str:
    """The key's scope if it grants ``needed``.

    Raises:
        ApiError: 401 for an unknown or revoked key, 403 for a key without the ``needed`` scope.
    """
    if scope is None:
        raise ApiError(
            401,
            "Unknown or revoked API key. Fix: check the key, or create one with "
            "`blendcast api-key create --scope read`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if needed not in _GRANTS.get(scope, set()):
        raise ApiError(
            403,
            f"This endpoint needs an API key with scope '{needed}'; the key sent has scope '{scope}'. "
            f"Fix: use a key created with `blendcast api-key create --scope {needed}`.",
        )
    return scope
