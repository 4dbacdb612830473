"""Domain errors of the API and how they become HTTP answers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An error with an HTTP status and a message that names what was wrong and the fix.

    Args:
        status_code: HTTP status.
        detail: The message.
        extra: More JSON fields of the body (e.g. ``closest`` matches).
        headers: Response headers (e.g. ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status_code: int,
        detail: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers


def no_run() -> ApiError:
    """503: nothing is published yet (or the store could not be read)."""
    return ApiError(
        503,
        "No forecast run is published yet, so there is nothing to serve. "
        "Fix: run the weekly pipeline (`blendcast train`); the API picks the run up by itself.",
        headers={"Retry-After": "30"},
    )


def closest(word: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` candidates most similar to ``word`` (difflib ratio >= 0.5)."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.5)


async def store_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """A database error while answering (alerts, history, key checks): 503, the store is unavailable."""
    return JSONResponse(
        {"detail": f"The result store is unavailable ({type(exc).__name__}). Fix: check the database "
                   "behind BLENDCAST_DATABASE_URL; retry later."},
        status_code=503,
        headers={"Retry-After": "30"},
    )


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Render an :class:`ApiError` as ``{"detail": ..., **extra}``."""
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status_code, headers=exc.headers)
