"""Each HTTP request observed once: timed, counted in the Prometheus metrics and written as one
access-log line (method, path, status, milliseconds and the key's public id).

Logged on the ``blendcast.access`` logger (uvicorn's own access log is off in ``blendcast serve``). The
key is named by its public prefix (``bck_1a2b3c4d``) as set by the key check in ``request.state``;
never the key itself, and never the query string.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.metrics import ApiMetrics

access_log = logging.getLogger("blendcast.access")


class ObserveRequests:
    """Pure ASGI middleware (cheaper than ``BaseHTTPMiddleware``): one timing per HTTP request feeds
    both the metrics and the ``INFO`` access-log line."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

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
            seconds = time.perf_counter() - started
            self.metrics.observe_request(scope, status[0], seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %d %.1fms key=%s", scope.get("method", "-"), scope.get("path", "-"),
                                status[0], seconds * 1000.0, state.get("key_id", "-"))
