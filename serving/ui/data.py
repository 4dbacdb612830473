"""What the analyst pages read: the store of the app (or one from Settings), series, matrix, alerts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request

from forecasting.persistence import ResultStore, RunInfo

MAX_MATCHES = 50
_LOCK = threading.Lock()


def get_sales(request: Request) -> pd.DataFrame | None:
    """Sales history for the fan charts (``app.state.ui_sales``: ``sku, channel, date, units``), if given."""
    sales = getattr(request.app.state, "ui_sales", None)
    return sales if isinstance(sales, pd.DataFrame) else None


def _sales_index(sales: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    ordered = sales
    if not sales["sku"].is_monotonic_increasing:
        ordered = sales.sort_values("sku", kind="stable")
    column = ordered["sku"]
    return sales, ordered, (column if column.dtype == object else column.astype(str)).to_numpy()


def attach_sales(app: FastAPI, sales: pd.DataFrame) -> None:
    """Give the pages a sales history for the fan charts, indexed now rather than on the first view.

    Args:
        app: The app including :data:`serving.ui.ui_router`.
        sales: Rows ``sku, channel, date, units`` (e.g. ``Dataset.sales``).
    """
    app.state.ui_sales = sales
    app.state.ui_sales_index = _sales_index(sales)


def series_history(request: Request, sku: str, channel: str) -> pd.DataFrame | None:
    """One series' rows of ``app.state.ui_sales`` (None when the app has no sales).

    The sales are sorted by SKU once and their SKU column kept as an array, so a lookup is a binary
    search rather than a scan of millions of rows on every page view.
    """
    sales = get_sales(request)
    if sales is None:
        return None
    state = request.app.state
    index = getattr(state, "ui_sales_index", None)
    if index is None or index[0] is not sales:
        with _LOCK:
            index = _sales_index(sales)
            state.ui_sales_index = index
    _, ordered, keys = index
    lo, hi = np.searchsorted(keys, sku, side="left"), np.searchsorted(keys, sku, side="right")
    rows = ordered.iloc[lo:hi]
    return rows[rows["channel"] == channel]


@dataclass(frozen=True)
class Series:
    """One SKU-channel of a run: its forecast rows and its policy (None when not planned)."""

    sku: str
    channel: str
    forecast: pd.DataFrame
    policy: dict[str, Any] | None


def _cached(kind: str, store: ResultStore, run: RunInfo, load: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Per-run memo: a published run never changes, so its frames can be kept until a newer one comes."""
    key = (kind, id(store), run.id)
    frame = _CACHE.get(key)
    if frame is None:
        frame = load()
        with _LOCK:
            if len(_CACHE) > 8:
                _CACHE.clear()
            _CACHE[key] = frame
    return frame


_CACHE: dict[tuple[str, int, int], pd.DataFrame] = {}


def run_policies(store: ResultStore, run: RunInfo) -> pd.DataFrame:
    """The run's policies (cached)."""
    return _cached("policies", store, run, lambda: store.get_policies(run.id))


def series_keys(store: ResultStore, run: RunInfo) -> pd.DataFrame:
    """The run's series, sorted: from its policies, else distinct forecast keys (cached per run)."""

    return _cached("keys", store, run, lambda: store.series_keys(run.id))


def search(store: ResultStore, run: RunInfo, query: str) -> pd.DataFrame:
    """Series whose SKU contains ``query`` (case-insensitive), exact SKU matches first."""
    keys = series_keys(store, run)
    text = query.strip().lower()
    if not text:
        return keys.iloc[:0]
    lowered = keys["sku"].str.lower()
    hits = keys[lowered.str.contains(text, regex=False)]
    exact = hits["sku"].str.lower() == text
    return pd.concat([hits[exact], hits[~exact]]).head(MAX_MATCHES).reset_index(drop=True)


def load_series(store: ResultStore, run: RunInfo, sku: str, channel: str) -> Series | None:
    """The forecast and policy of one series in ``run``; None if the run has no such series."""
    forecast = store.get_forecasts(run.id, keys=[(sku, channel)])
    if forecast.empty:
        return None
    return Series(sku, channel, forecast, store.get_policy(run.id, sku, channel))


def abc_xyz_matrix(store: ResultStore, run: RunInfo) -> dict[str, Any]:
    """Counts of series per ABC x XYZ cell and the policy mix of each cell."""
    frame = run_policies(store, run)
    if frame.empty:
        frame = store.get_segments(run.id)
    if frame.empty or not {"abc", "xyz"} <= set(frame.columns):
        return {"rows": [], "cols": [], "cells": {}, "total": 0}
    frame = frame.assign(abc=frame["abc"].fillna("?"), xyz=frame["xyz"].fillna("?"))
    policy = frame["policy"].fillna("none") if "policy" in frame else pd.Series("none", index=frame.index)
    frame = frame.assign(policy=policy)
    cells: dict[str, dict[str, Any]] = {}
    for (abc, xyz), part in frame.groupby(["abc", "xyz"], sort=True):
        mix = part["policy"].value_counts()
        cells[f"{abc}{xyz}"] = {"count": len(part), "mix": [(str(k), int(v)) for k, v in mix.items()]}
    return {"rows": sorted(frame["abc"].unique()), "cols": sorted(frame["xyz"].unique()), "cells": cells,
            "total": len(frame), "policies": frame["policy"].value_counts().to_dict()}


def parse_since(text: str | None) -> datetime | None:
    """``since`` of the alerts filter: an ISO date or date-time; empty means no bound.

    Raises:
        ValueError: Naming the parameter, what is expected and what was given.
    """
    if text is None or not text.strip():
        return None
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        raise ValueError(f"The 'since' filter must be a date like 2024-05-01. Got {text!r}.") from None
    if stamp is pd.NaT:
        raise ValueError(f"The 'since' filter must be a date like 2024-05-01. Got {text!r}.")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def alert_types(store: ResultStore) -> list[str]:
    """Every alert type stored, sorted."""
    return store.alert_types()


def find_latest_summary(store: ResultStore) -> dict[str, Any] | None:
    """Verdict, reasons and ids of the newest drift report, for the overview page."""
    report = store.get_drift_report()
    if report is None:
        return None
    return {"id": report.id, "run_id": report.run_id, "created_at": report.created_at,
            "verdict": report.summary.get("verdict", "?"), "reasons": report.summary.get("reasons", [])}
