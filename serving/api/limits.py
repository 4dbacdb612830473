"""Request-size limit: bodies larger than ``Settings.max_request_bytes`` get 413 before being read whole."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _message(max_bytes: int) -> str:
    return (
        f"The request body is larger than the limit of {max_bytes} bytes. "
        "Fix: split the batch into smaller requests (or raise BLENDCAST_MAX_REQUEST_BYTES)."
    )


class BodySizeLimit:
    """Pure ASGI middleware answering 413 for bodies over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused at once; a chunked body is counted as it
    arrives and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": _message(self.max_bytes), "max_request_bytes": self.max_bytes}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing (anything else becomes a 400).
                    raise HTTPException(413, _message(self.max_bytes))
            return message

        await self.app(scope, counting_receive, send)
