"""The result store: what the pipeline publishes and what the API, pages and alerts read."""

from __future__ import annotations

from forecasting.persistence.alerts import AlertsMixin
from forecasting.persistence.keys import KeysMixin
from forecasting.persistence.locks import LocksMixin
from forecasting.persistence.reports import ReportsMixin
from forecasting.persistence.runs import RunsMixin


class ResultStore(RunsMixin, AlertsMixin, KeysMixin, LocksMixin, ReportsMixin):
    """Runs and their forecasts, policies and segments; alerts and their outbox; drift reports; API
    keys; the training lock. SQLite by default, PostgreSQL in production.

    The schema is upgraded with the packaged Alembic migrations on first use. A run's results become
    visible in one transaction (``publish_run``), so readers always see one complete run.

    Args:
        url: SQLAlchemy URL; nothing connects until the first call.

    Example:
        >>> store = ResultStore.from_settings(Settings())  # doctest: +SKIP
        >>> run_id = store.create_run("train", {"horizon": 28})  # doctest: +SKIP
        >>> store.publish_run(run_id, forecasts=frame, horizon=28, quantiles=M5_QUANTILES)  # doctest: +SKIP
        >>> store.get_forecasts(keys=[("FOODS_1_001", "CA_1")])  # doctest: +SKIP
    """
