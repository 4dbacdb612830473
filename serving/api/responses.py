"""Shared response helpers: fast JSON bytes and the documented error responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from serving.api.schemas import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request: names the parameter, the limit and the fix."},
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key."},
    403: {"model": ErrorBody, "description": "The key's scope does not allow this."},
    404: {"model": ErrorBody, "description": "Unknown SKU or channel; names the closest matches."},
    413: {"model": ErrorBody, "description": "Body over BLENDCAST_MAX_REQUEST_BYTES; split the batch."},
    422: {"model": ErrorBody, "description": "Invalid request: each field, expected, sent, fix."},
    503: {"model": ErrorBody, "description": "No run published yet, or the result store is unavailable."},
}


_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_response(payload: Any, status_code: int = 200) -> Response:
    """``payload`` as JSON bytes (orjson; numpy arrays written directly), skipping response-model validation.

    The payloads are built from typed arrays and records already; validating them again, or turning
    arrays into lists of Python floats, would cost more than everything else on the paths the IMS calls
    most. NaN would be written as null, but the store never holds NaN forecasts.
    """
    return Response(orjson.dumps(payload, option=_OPTIONS), status_code=status_code,
                    media_type="application/json")
