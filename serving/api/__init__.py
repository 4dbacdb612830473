"""The HTTP API the inventory management system queries (FastAPI; build it with :func:`create_app`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: the pages import serving.api.auth, and the app imports the pages.
    if name == "create_app":
        from serving.api.app import create_app

        return create_app
    raise AttributeError(name)
