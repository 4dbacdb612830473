"""One access-log line per request: method, path, status, milliseconds and the key's public id.

Logged on the ``blendcast.access`` logger (uvicorn's own access log is off in ``blendcast serve``). The
key is named by its public prefix (``bck_1a2b3c4d``) as set by the key check in ``request.state``;
never the key itself, and never the query string.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("blendcast.access")


class AccessLog:
    """Pure ASGI middleware writing one ``INFO`` line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        state = scope.setdefault("state", {})

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %d %.1fms key=%s", scope.get("method", "-"), scope.get("path", "-"),
                                status[0], (time.perf_counter() - started) * 1000.0, state.get("key_id", "-"))
