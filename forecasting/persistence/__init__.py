"""The result store (SQLAlchemy; SQLite by default, PostgreSQL in production; Alembic migrations)."""

from forecasting.persistence.records import Delivery, DriftReport, NotFoundError, RunInfo
from forecasting.persistence.store import ResultStore

__all__ = ["Delivery", "DriftReport", "NotFoundError", "ResultStore", "RunInfo"]
