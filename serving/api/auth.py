"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, scopes read/admin.

Keys are created with ``blendcast api-key create --scope read|admin`` and stored hashed (salted
SHA-256 of 256 random bits). Every request verifies its key against the store (one indexed query and
one hash, a fraction of a millisecond): no worker caches a verdict, so a revoked key is refused on the
very next request by every worker. Keys never reach a log: the access log names a key by its public
prefix (``bck_<8 hex>``), and error messages do not repeat keys.

``/health``, ``/ready`` and ``/metrics`` need no key: load balancers and Prometheus scrape them, and
they reveal nothing but liveness, readiness and counters.
"""

from __future__ import annotations

import re

from forecasting.persistence import ResultStore
from serving.api.errors import ApiError

SCOPES = ("read", "admin")
# What each scope may do: admin keys can also read.
_GRANTS = {"read": {"read"}, "admin": {"read", "admin"}}
_KEY_ID = re.compile(r"^(bck_[0-9a-f]{8})_\S+$")

# Documented in the OpenAPI schema on every /v1 operation (either scheme works).
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "API key as a bearer token."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "API key header."},
}


class KeyVerifier:
    """Verifies API keys against the store, on every call (a revocation counts at once, in every worker).

    Args:
        store: The result store holding the hashed keys.
    """

    def __init__(self, store: ResultStore) -> None:
        self.store = store

    def verify(self, key: str) -> str | None:
        """The key's scope, or None if it is unknown or revoked."""
        return self.store.verify_api_key(key)


def key_id(key: str | None) -> str:
    """What the access log may say about a key: its public prefix, never the secret part."""
    if not key:
        return "-"
    match = _KEY_ID.match(key)
    return match.group(1) if match else "malformed"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def presented_key(authorization: str | None, header: str | None, cookie: str | None = None) -> str:
    """The one key sent as ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or (pages) the cookie.

    Whatever credential is sent must be usable: an ``Authorization`` header of another form, an empty
    ``X-API-Key`` or two different keys are refused rather than skipped for another header.

    Raises:
        ApiError: 401 when no key is sent, or the headers are malformed or disagree.
    """
    bearer = api_key = None
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            # Never echo the header: it may hold a secret in the wrong form.
            raise _unauthorized("The Authorization header is not of the form 'Bearer <key>'. Fix: send "
                                "'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")
        bearer = credentials.strip()
    if header is not None:
        api_key = header.strip()
        if not api_key:
            raise _unauthorized("The X-API-Key header is empty. Fix: send 'X-API-Key: <key>'.")
    if bearer and api_key and bearer != api_key:
        raise _unauthorized("Two different keys were sent (Authorization and X-API-Key). Fix: send one key, "
                            "in one header.")
    key = bearer or api_key or (cookie.strip() if cookie else None)
    if not key:
        raise _unauthorized(
            "Missing API key. Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'. "
            "Fix: create one with `blendcast api-key create --scope read`."
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
