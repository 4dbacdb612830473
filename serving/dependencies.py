"""Request dependencies shared by the HTTP API and the analyst pages: the app's result store."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request

from forecasting.infrastructure.settings import get_settings
from forecasting.persistence import ResultStore

_LOCK = threading.Lock()


def app_store(request: Request) -> ResultStore:
    """The app's result store (``app.state.store``).

    An app that includes only the pages' routers has none: it gets the store of the process's
    settings, made once.
    """
    state = request.app.state
    store: ResultStore | None = getattr(state, "store", None)
    if store is None:
        with _LOCK:
            store = getattr(state, "store", None)
            if store is None:
                store = ResultStore.from_settings(get_settings())
                state.store = store
    return store


async def get_store(request: Request) -> ResultStore:
    """:func:`app_store` as a dependency (``async``: FastAPI calls it without a thread-pool hop)."""
    return app_store(request)


StoreDep = Annotated[ResultStore, Depends(get_store)]
