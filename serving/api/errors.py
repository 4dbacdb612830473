"""The API's one error shape, and the handlers that give every 4xx/5xx answer that shape.

Every error body is ``{"detail": str, "errors": [...] | absent, **extra}``: ``detail`` names what was
wrong, what was expected, what was sent and the fix; a request that failed validation also lists one
entry per problem in ``errors`` (``field``, ``in``, ``message``, ``got``, ``fix``); some errors add
figures (``closest``, ``max_horizon``, ``published_quantiles``, ``max_request_bytes``).

Request validation errors are rebuilt here from pydantic's error list, so nothing the client sent is
echoed unencodable (a NaN, an infinity, bytes) and the union's internal model names never appear.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_WHERE = ("body", "query", "path", "header", "cookie")
# Union members (``ReplenishmentItem``), pydantic's internal steps (``function-after[...]``, ``list[float]``).
_INTERNAL = re.compile(r"^([A-Z]\w*|[\w-]+\[.*\]|int|float|str|bool|none|null|list|dict)$")
_MAX_LISTED = 10
_DOCS = "the schema at /docs"


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


def error_response(status_code: int, detail: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    """A response in the API's one error shape."""
    return JSONResponse({"detail": detail, **extra}, status_code=status_code, headers=headers)


def safe_value(value: Any, limit: int = 80) -> Any:
    """``value`` made JSON-safe and short: non-finite floats and long or odd values become text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "..."
    if isinstance(value, dict):
        return f"an object with keys {[str(k)[:30] for k in list(value)[:_MAX_LISTED]]}"
    if isinstance(value, list | tuple):
        return f"an array of {len(value)} values"
    return repr(value)[:limit]


def _field(loc: Sequence[Any]) -> tuple[str, str]:
    """``("body", "ReplenishmentBatch", "items", 0, "on_hand")`` -> ``("body", "items[0].on_hand")``."""
    where = str(loc[0]) if loc and loc[0] in _WHERE else "body"
    rest = loc[1:] if loc and loc[0] in _WHERE else loc
    path = ""
    for part in rest:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _INTERNAL.match(str(part)):
            path += f".{part}" if path else str(part)
    return where, path or ("body" if where == "body" else where)


def _fix(kind: str, name: str, ctx: dict[str, Any]) -> str:
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()), "the limit")
        return f"send a number {bounds[kind]} {limit}"
    if kind == "missing":
        return f"add '{name}' (see {_DOCS})"
    if kind == "extra_forbidden":
        return f"remove '{name}': it is not a field of this request (see {_DOCS})"
    if kind in ("enum", "literal_error"):
        return f"use one of {ctx.get('expected', 'the documented values')}"
    if kind.startswith("int_"):
        return "send a whole number, e.g. 14 (not a string, boolean or fraction)"
    if kind.startswith("float_") or kind == "finite_number":
        return "send a JSON number, e.g. 12.5 (not a string, boolean, NaN or Infinity)"
    if kind.startswith("bool_"):
        return "send true or false"
    if kind.startswith(("datetime_", "date_")) or (kind == "value_error" and name == "since"):
        return "send an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        lo, hi = ctx.get("min_length"), ctx.get("max_length")
        unit = "characters" if kind.startswith("string") else "items"
        return f"send {'at least ' + str(lo) if lo is not None else 'at most ' + str(hi)} {unit}"
    if kind == "string_pattern_mismatch":
        return f"match the pattern {ctx.get('pattern')}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "send a JSON object"
    if kind == "list_type":
        return "send a JSON array"
    if kind == "string_type":
        return "send a JSON string"
    if kind == "json_invalid":
        return ("send valid JSON (RFC 8259) with Content-Type: application/json; NaN, Infinity and numbers "
                "beyond +-1.8e308 are not JSON numbers")
    return f"see {_DOCS}"


def describe_validation(
    errors: Sequence[Any], max_horizon: int | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """A one-line message and the per-field entries of pydantic / FastAPI validation errors.

    Args:
        errors: ``RequestValidationError.errors()``.
        max_horizon: The served run's horizon: a ``horizon`` over the cap names it rather than the cap.
    """
    entries: list[dict[str, Any]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = str(err.get("type", "value_error"))
        where, name = ("body", "body") if kind == "json_invalid" else _field(loc)
        ctx = {k: safe_value(v) for k, v in (err.get("ctx") or {}).items()}
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        leaf = name.rsplit(".", 1)[-1]
        fix = _fix(kind, leaf, ctx)
        if kind == "json_invalid":
            at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            message = f"The body is not valid JSON{at} ({ctx.get('error', 'decode error')})"
        elif leaf == "horizon" and kind == "less_than_equal" and max_horizon is not None:
            message = f"The horizon must be at most {max_horizon} days, the served run's horizon"
            fix = f"ask for {max_horizon} days or fewer"
        entry: dict[str, Any] = {"field": name, "in": where, "type": kind, "message": message, "fix": fix}
        if kind not in ("missing", "json_invalid") and "input" in err:
            entry["got"] = safe_value(err["input"])
        if entry not in entries:
            entries.append(entry)
    parts = []
    for e in entries[:_MAX_LISTED]:
        got = f"; got {e['got']!r}" if "got" in e else ""
        parts.append(f"{e['in']} field '{e['field']}': {e['message']}{got}. Fix: {e['fix']}.")
    more = f" (+{len(entries) - _MAX_LISTED} more in 'errors')" if len(entries) > _MAX_LISTED else ""
    return f"Invalid request: {' '.join(parts)}{more}", entries


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 in the one shape for :class:`RequestValidationError` (never echoes an unencodable input)."""
    assert isinstance(exc, RequestValidationError)
    served = getattr(getattr(request.app.state, "served", None), "current", None)
    detail, entries = describe_validation(exc.errors(), served.max_horizon if served is not None else None)
    return error_response(422, detail, errors=entries)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette/FastAPI ``HTTPException`` (unknown route, wrong method, 413 while reading) in one shape."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    detail = exc.detail if isinstance(exc.detail, str) else str(safe_value(exc.detail, 500))
    if exc.status_code == 404 and detail == "Not Found":
        detail = (f"No endpoint at {request.url.path}. Fix: check the path; every endpoint is listed at "
                  "/docs (a SKU or channel with '/' may be sent as is or percent-encoded as %2F).")
    elif exc.status_code == 405:
        allowed = headers.get("allow", headers.get("Allow", "")) if headers else ""
        detail = (f"{request.method} is not allowed on {request.url.path}. Fix: use one of: "
                  f"{allowed or 'the methods listed at /docs'}.")
    return error_response(exc.status_code, detail, headers)


async def store_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """A database error while answering (alerts, history, key checks): 503, the store is unavailable."""
    log.warning("result store error while answering: %s: %s", type(exc).__name__, str(exc)[:300])
    return error_response(
        503,
        f"The result store is unavailable ({type(exc).__name__}). Fix: check the database "
        "behind BLENDCAST_DATABASE_URL; retry later.",
        {"Retry-After": "30"},
    )


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Render an :class:`ApiError` as ``{"detail": ..., **extra}``."""
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.detail, exc.headers, **exc.extra)


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: 500 in the one shape (the traceback goes to the log, not to the client)."""
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return error_response(500, f"Internal error ({type(exc).__name__}). Fix: retry; if it persists, report "
                               "it with the time of the request (the server logged the traceback).")
