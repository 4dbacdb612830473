"""Shared response helpers: fast JSON bytes and the documented error responses."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

from serving.api.schemas import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request: names the parameter, the limit and the fix."},
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key."},
    403: {"model": ErrorBody, "description": "The key's scope does not allow this."},
    404: {"model": ErrorBody, "description": "Unknown SKU or channel; names the closest matches."},
    503: {"model": ErrorBody, "description": "No run published yet."},
}


def json_response(payload: Any, status_code: int = 200) -> Response:
    """``payload`` as compact JSON bytes, skipping response-model validation.

    The payloads are built from typed arrays and records already; validating them again would cost
    more than building them on the paths the IMS calls most.
    """
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, status_code=status_code, media_type="application/json")
