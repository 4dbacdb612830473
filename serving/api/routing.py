"""Strict JSON request bodies: the route class every API router uses.

Python's ``json`` module (what Starlette's ``Request.json`` uses) accepts ``NaN``, ``Infinity`` and
``1e400`` (read as infinity) although RFC 8259 has no such numbers; they then flow into validation and
into error messages that cannot be encoded (a 500 and a reset connection). orjson refuses them, and
lone surrogates, with a :class:`json.JSONDecodeError` that FastAPI turns into a 422 ``json_invalid``
error. This is FastAPI's documented way of customising the request (a custom ``APIRoute`` class).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute


class StrictJsonRequest(Request):
    """A request whose ``json()`` is parsed by orjson (strict RFC 8259 numbers and strings)."""

    async def json(self) -> Any:
        """The body parsed strictly; raises ``json.JSONDecodeError`` (orjson's subclass) when invalid."""
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An ``APIRoute`` that hands its endpoint a :class:`StrictJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose routes parse JSON strictly (use it for every router of the API)."""
    return APIRouter(route_class=StrictJsonRoute, **kwargs)
