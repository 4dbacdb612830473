"""FastAPI dependencies as typed ``Annotated`` aliases: the store, the served run and the API-key scopes.

Every dependency is ``async`` so FastAPI does not hand it to the thread pool; the only blocking call, the
key verification (one store query), is moved to a worker thread explicitly.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from forecasting.infrastructure.settings import Settings
from serving.api.auth import KeyVerifier, check_scope, key_id, presented_key
from serving.api.state import ServedRun, ServedState
from serving.dependencies import StoreDep as StoreDep  # the one store dependency, shared with the pages


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_state(request: Request) -> ServedState:
    """The holder of the served run."""
    state: ServedState = request.app.state.served
    return state


async def get_served(request: Request) -> ServedRun:
    """The served run, taken once for the whole request (503 when none is loaded)."""
    state: ServedState = request.app.state.served
    return state.require()


async def _scope(request: Request) -> str | None:
    # Headers are read here directly rather than through FastAPI's security classes: each nested
    # dependency costs tens of microseconds on the hot lookup path. The OpenAPI schema still documents
    # both schemes (see ``app.py``).
    key = presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    request.state.key_id = key_id(key)
    verifier: KeyVerifier = request.app.state.keys
    return await run_in_threadpool(verifier.verify, key)


async def require_read(request: Request) -> str:
    """A key with scope ``read`` (or ``admin``); 401/403 otherwise."""
    return check_scope(await _scope(request), "read")


async def require_admin(request: Request) -> str:
    """A key with scope ``admin``; 401/403 otherwise."""
    return check_scope(await _scope(request), "admin")


async def read_served(request: Request) -> ServedRun:
    """A read key's check and the served run in one dependency (the cheapest for the hot path)."""
    check_scope(await _scope(request), "read")
    state: ServedState = request.app.state.served
    return state.require()


SettingsDep = Annotated[Settings, Depends(get_settings)]
StateDep = Annotated[ServedState, Depends(get_state)]
ServedDep = Annotated[ServedRun, Depends(get_served)]
ReadKey = Annotated[str, Depends(require_read)]
ReadServedDep = Annotated[ServedRun, Depends(read_served)]
AdminKey = Annotated[str, Depends(require_admin)]
