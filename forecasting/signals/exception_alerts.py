"""The planner's exceptions (:mod:`forecasting.inventory.exceptions`) as alerts for the outbox.

One alert per exception, typed by its kind (``stockout_risk``, ``excess_stock``, ``excess_on_order``,
``policy_health``); the payload carries the tripping figure, the threshold, the sentence, the suggested
action, the run and the planning date. The dedup key is the kind, the series, the run and the planning
date, so recomputing the same run's exceptions (on demand) stores nothing twice.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from forecasting.signals.alerts import make_alert

EXCEPTION_TYPES = ("stockout_risk", "excess_stock", "excess_on_order", "policy_health")


def exception_alerts(exceptions: pd.DataFrame, run_id: int, as_of: pd.Timestamp | str
                     ) -> list[dict[str, Any]]:
    """Alerts of :func:`forecasting.inventory.exceptions.detect_exceptions` rows.

    Args:
        exceptions: Its output.
        run_id: The run whose policies were checked.
        as_of: The planning date.
    """
    day = pd.Timestamp(as_of).date().isoformat()
    out = []
    for row in exceptions.to_dict("records"):
        payload = {"figure": row["figure"], "threshold": row["threshold"], "message": row["message"],
                   "action": row["action"], "policy": row["policy"], "run_id": run_id, "as_of": day}
        key = f"{row['kind']}|{row['sku']}|{row['channel']}|{run_id}|{day}"
        out.append(make_alert(str(row["kind"]), str(row["severity"]), str(row["sku"]), str(row["channel"]),
                              payload, dedup_key=key))
    return out


__all__ = ["EXCEPTION_TYPES", "exception_alerts"]
