"""Purchase-order proposals of the served run, computed once per run and order date."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import pandas as pd

from forecasting.inventory.purchase_orders import OrderProposal, order_date, proposal_records, propose_orders
from serving.api.state import ServedRun

_CACHE: weakref.WeakKeyDictionary[ServedRun, dict[Any, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_MAX_DATES = 8


def _cache(served: ServedRun) -> dict[Any, Any]:
    with _LOCK:
        cache = _CACHE.get(served)
        if cache is None:
            cache = {}
            _CACHE[served] = cache
        return cache


def plan_date(served: ServedRun) -> pd.Timestamp:
    """The run's planning date (its segments' ``as_of``; the publication day if absent)."""
    seg = served.segments
    if "as_of" in seg and len(seg) and seg["as_of"].notna().any():
        return pd.Timestamp(seg["as_of"].max()).normalize()
    published = served.run.published_at
    return pd.Timestamp(published.date() if published else pd.Timestamp.now("UTC").date())


def policy_frame(served: ServedRun) -> pd.DataFrame:
    """The served policies as a DataFrame (built once per run)."""
    cache = _cache(served)
    frame = cache.get("policies")
    if frame is None:
        frame = pd.DataFrame(served.policies.columns)
        cache["policies"] = frame
    return frame


def check_order_date(served: ServedRun, as_of: str | None) -> pd.Timestamp:
    """The order date asked for, or the served run's planning date (rules in ``order_date``).

    Raises:
        ValueError: An unreadable date or one before the planning date (the message names the fix).
    """
    return order_date(as_of, plan_date(served), run=f"run {served.run_id}")


def proposal(served: ServedRun, date: pd.Timestamp) -> tuple[OrderProposal, list[dict[str, Any]]]:
    """The proposal for every supplier on ``date`` and its JSON records (cached).

    Raises:
        NoInventoryError: The run was planned without stock positions.
    """
    cache = _cache(served)
    key = ("orders", date)
    hit = cache.get(key)
    if hit is None:
        result = propose_orders(policy_frame(served), date)
        hit = (result, proposal_records(result))
        with _LOCK:
            if sum(1 for k in cache if isinstance(k, tuple)) >= _MAX_DATES:
                for old in [k for k in cache if isinstance(k, tuple)]:
                    del cache[old]
            cache[key] = hit
    return hit
