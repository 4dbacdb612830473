"""The HTTP API the inventory management system queries (FastAPI; build it with :func:`create_app`)."""

from serving.api.app import create_app

__all__ = ["create_app"]
