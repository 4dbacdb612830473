"""Shared helpers of the API tests: a real run built from synthetic data and published into a real store.

The run is what the weekly pipeline publishes: SeasonalNaive forecasts, ``compute_policies`` rows
with the lead-time demand grid the pipeline adds (``ltd_levels``/``ltd_quantiles``, ``review_demand``,
``daily_mean``), segments, and a supplier audit in the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from features.schema import M5_QUANTILES
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.infrastructure.settings import Settings
from forecasting.inventory.leadtime import audit_lead_times
from forecasting.inventory.operating_kpis import kpi_records, operating_kpis
from forecasting.inventory.policy import compute_policies
from forecasting.inventory.purchase_orders import with_order_inputs
from forecasting.inventory.rules import load_rules
from forecasting.persistence import ResultStore
from models.registry import make_model

HORIZON = 28
GRID_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 0.995)


@dataclass
class RunFrames:
    """Frames of one run, ready to publish."""

    forecasts: pd.DataFrame
    policies: pd.DataFrame
    segments: pd.DataFrame
    metrics: dict


@lru_cache(maxsize=4)
def build_run(n_skus: int = 8, n_channels: int = 2, seed: int = 3) -> RunFrames:
    """A small real run: synthetic catalogue -> SeasonalNaive -> compute_policies (+ the LTD grid)."""
    catalogue = generate_catalogue(n_skus, n_channels, 240, seed)
    data = build_dataset(catalogue.tables)
    rules = load_rules()
    model = make_model("seasonal_naive").fit(data)
    forecasts = model.predict(HORIZON, M5_QUANTILES)
    paths = model.sample_paths(HORIZON, 200, random_state=seed)
    policies = compute_policies(data, paths, rules)
    review = rules.review_period_days
    protect = np.clip(np.ceil(policies["lead_time_mean"].to_numpy()).astype(int) + review, 1, HORIZON)
    cum = np.cumsum(paths.values, axis=2)
    totals = np.take_along_axis(cum, (protect - 1)[:, None, None].repeat(cum.shape[1], 1), axis=2)[..., 0]
    grid = np.quantile(totals, GRID_LEVELS, axis=1).T
    policies["ltd_levels"] = [list(GRID_LEVELS)] * len(policies)
    policies["ltd_quantiles"] = [list(row) for row in np.maximum.accumulate(grid, axis=1)]
    policies["daily_mean"] = paths.values.mean(axis=(1, 2))
    policies["review_demand"] = policies["daily_mean"] * review
    policies = with_order_inputs(policies, data)
    segments = policies[["sku", "channel", "abc", "xyz", "pattern", "policy"]].copy()
    segments["cv"] = np.linspace(0.1, 1.0, len(segments))
    audit = audit_lead_times(data, data.end_date, rules.lead_time)
    kpis = operating_kpis(data, policies[["sku", "channel", "policy", "abc"]], quarters=2)
    metrics = {"backtest_wspl": 0.42, "supplier_audit": audit_rows(audit),
               "operating_kpis": kpi_records(kpis)}
    return RunFrames(forecasts, policies, segments, metrics)


def audit_rows(audit) -> list[dict]:
    """The supplier audit as the pipeline stores it in ``metrics["supplier_audit"]`` (the audit's own
    column names: ``mean_days``, ``p90_days``...)."""
    table = getattr(audit, "suppliers", None)
    if isinstance(table, pd.DataFrame) and not table.empty:
        return table.head(20).to_dict("records")
    return [{"supplier": "S1", "n_receipts": 10, "mean": 5.0, "p90": 7.0, "cv": 0.2, "on_time_rate": 0.8,
             "bias": 1.0, "trend": "stable", "reliability": "reliable", "fallback": False}]


def publish(store: ResultStore, run: RunFrames, model_version: str = "3", scale: float = 1.0) -> int:
    """Publish ``run`` (forecasts multiplied by ``scale``) and return its run id."""
    forecasts = run.forecasts.copy()
    value_cols = [c for c in forecasts.columns if c not in ("sku", "channel", "date", "model")]
    forecasts[value_cols] = forecasts[value_cols] * scale
    run_id = store.create_run("train", {"test": True})
    store.publish_run(run_id, forecasts=forecasts, policies=run.policies, segments=run.segments,
                      metrics=run.metrics, model_version=model_version, horizon=HORIZON,
                      quantiles=M5_QUANTILES)
    return run_id


def settings_for(tmp_path: Path, **overrides) -> Settings:
    """Settings on a tmp SQLite store, without polling (tests reload explicitly)."""
    values = {"home": tmp_path, "api_poll_seconds": 0.0, **overrides}
    return Settings(**values)


@dataclass
class Api:
    """A running test app with its store and keys."""

    client: TestClient
    store: ResultStore
    read: dict[str, str]
    admin: dict[str, str]


def make_api(tmp_path: Path, run: RunFrames | None, **overrides) -> Api:
    """Store (+ published run if given), keys and a started TestClient (close it with ``client.close``)."""
    from serving.api import create_app  # lazy: the policy tests reuse build_run without the API

    settings = settings_for(tmp_path, **overrides)
    store = ResultStore.from_settings(settings)
    if run is not None:
        publish(store, run)
    _, read = store.create_api_key("read", "tests")
    _, admin = store.create_api_key("admin", "tests")
    client = TestClient(create_app(settings))
    client.__enter__()
    return Api(client, store, {"X-API-Key": read}, {"Authorization": f"Bearer {admin}"})


def first_key(store: ResultStore) -> tuple[str, str]:
    """``(sku, channel)`` of the served run's first series."""
    frame = store.get_forecasts()
    return str(frame["sku"].iloc[0]), str(frame["channel"].iloc[0])
