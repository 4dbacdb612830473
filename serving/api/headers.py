"""Request-header size limit: 431 for an oversized key header or header block, before any route runs.

uvicorn's default HTTP parser (httptools) sets no header limit of its own, so a 10 MB
``Authorization`` header used to reach the key check. ``blendcast serve --http h11`` also bounds the
parser's buffer (``h11_max_incomplete_event_size``); behind a proxy, set its header limit too.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_KEY_HEADER_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
_KEY_HEADERS = (b"authorization", b"x-api-key", b"cookie")


class HeaderSizeLimit:
    """Pure ASGI middleware answering 431 in the API's error shape.

    Args:
        app: The wrapped application.
        max_key_bytes: Largest ``Authorization``, ``X-API-Key`` or ``Cookie`` header value.
        max_total_bytes: Largest sum of all header names and values.
    """

    def __init__(self, app: ASGIApp, max_key_bytes: int = MAX_KEY_HEADER_BYTES,
                 max_total_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_key_bytes = max_key_bytes
        self.max_total_bytes = max_total_bytes

    async def _reject(self, send: Send, detail: str, limit: int) -> None:
        body = json.dumps({"detail": detail, "max_header_bytes": limit}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 431, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        total = 0
        for name, value in scope.get("headers", []):
            total += len(name) + len(value)
            if name in _KEY_HEADERS and len(value) > self.max_key_bytes:
                await self._reject(send, f"The '{name.decode()}' header has {len(value)} bytes; the limit is "
                                         f"{self.max_key_bytes}. Fix: send the API key alone (keys are about "
                                         "60 characters).", self.max_key_bytes)
                return
        if total > self.max_total_bytes:
            await self._reject(send, f"The request headers have {total} bytes; the limit is "
                                     f"{self.max_total_bytes}. Fix: send fewer or shorter headers.",
                               self.max_total_bytes)
            return
        await self.app(scope, receive, send)
