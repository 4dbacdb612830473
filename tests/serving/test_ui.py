"""Analyst pages and drift-report routes against a real SQLite store with two published runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.dataset import Dataset
from features.schema import M5_QUANTILES
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.inventory.segmentation import segment
from forecasting.persistence import ResultStore
from models.registry import make_model
from serving.reports import run_drift
from serving.ui import reports_router, ui_router

EVIL_SKU = "<script>alert(1)</script>"


@dataclass
class Published:
    """A store with two published runs (7 days apart), policies, alerts and a drift report."""

    store: ResultStore
    data: Dataset
    run_ids: list[int]
    report_id: int


def _policies(forecast: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    totals = forecast.groupby(["sku", "channel"], as_index=False).agg(mean=("mean", "mean"),
                                                                        high=("0.975", "mean"))
    out = totals.merge(segments[["sku", "channel", "abc", "xyz", "pattern"]], on=["sku", "channel"])
    out["policy"] = np.where(out["abc"] == "A", "safety_stock", "jit")
    out["safety_stock"] = 7 * (out["high"] - out["mean"])
    out["reorder_point"] = 7 * out["mean"] + out["safety_stock"]
    return out.drop(columns=["mean", "high"])


def make_published_store(path: Path, *, n_skus: int = 12) -> Published:
    """Build the store the page tests read: synthetic data with one SKU named like a script tag."""
    cat = generate_catalogue(n_skus, 2, 220, seed=3)
    tables = {k: v.copy() for k, v in cat.tables.items()}
    first = str(tables["skus"]["sku"].iloc[0])
    for name in ("sales", "skus", "receipts", "promotions", "inventory"):
        if "sku" in tables[name]:
            tables[name]["sku"] = tables[name]["sku"].replace(first, EVIL_SKU)
    data = build_dataset(tables)
    store = ResultStore(f"sqlite:///{path / 'ui.db'}")
    run_ids = []
    for days_back in (21, 14):
        known = data.truncate(data.end_date - pd.Timedelta(days=days_back))
        forecast = make_model("seasonal_naive").fit(known).predict(28, M5_QUANTILES)
        seg = segment(known)
        run_id = store.create_run("weekly", {"model": "seasonal_naive"})
        audit = [{"supplier": "<b>ACME</b>", "n_receipts": 12, "promised_days": 4.0, "mean_days": 9.2,
                  "on_time_rate": 0.31, "reliability": "unreliable"},
                 {"supplier": "Globex", "n_receipts": 30, "promised_days": 10.0, "mean_days": 10.4,
                  "on_time_rate": 0.9, "reliability": "reliable"}]
        store.publish_run(run_id, forecasts=forecast, policies=_policies(forecast, seg),
                          segments=seg[["sku", "channel", "abc", "xyz", "pattern"]],
                          metrics={"supplier_audit": audit}, horizon=28, quantiles=M5_QUANTILES)
        run_ids.append(run_id)
    store.add_alerts([
        {"type": "segment_change", "severity": "warning", "sku": EVIL_SKU, "channel": "own_shop",
         "payload": {"from": "A-X", "to": "B-Y"}},
        {"type": "volatility_shift", "severity": "info", "sku": "SKU-x", "channel": "marketplace",
         "payload": {"cv_before": 0.3, "cv_after": 0.8}},
    ])
    report_id, _ = run_drift(data, store, volatility=False)
    return Published(store, data, run_ids, report_id)


def make_app(store: ResultStore, sales: pd.DataFrame | None = None) -> FastAPI:
    """A tiny app with only the page routers (the API's create_app includes them too)."""
    app = FastAPI()
    app.state.store = store
    app.state.ui_sales = sales
    app.include_router(ui_router)
    app.include_router(reports_router)
    return app


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    pub = make_published_store(tmp_path_factory.mktemp("ui"))
    yield pub
    pub.store.dispose()


@pytest.fixture(scope="module")
def client(published: Published) -> TestClient:
    return TestClient(make_app(published.store, published.data.sales))


def test_every_page_renders(client: TestClient, published: Published) -> None:
    for url in ("/ui", "/ui/sku?q=SKU", "/ui/matrix", "/ui/alerts", "/ui/suppliers", "/reports/drift/latest",
                f"/reports/drift/{published.run_ids[-1]}", "/ui/static/style.css"):
        response = client.get(url)
        assert response.status_code == 200, url
    assert f"Served run <strong>{published.run_ids[-1]}</strong>" in client.get("/ui").text


def test_script_named_sku_renders_as_text(client: TestClient) -> None:
    page = client.get("/ui/sku", params={"q": "script"}).text
    assert EVIL_SKU not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    alerts = client.get("/ui/alerts").text
    assert EVIL_SKU not in alerts and "&lt;script&gt;" in alerts
    suppliers = client.get("/ui/suppliers").text
    assert "<b>ACME</b>" not in suppliers and "&lt;b&gt;ACME&lt;/b&gt;" in suppliers


def test_sku_search_shows_fan_chart_with_policy_levels(client: TestClient, published: Published) -> None:
    policies = published.store.get_policies()
    row = policies[policies["sku"] != EVIL_SKU].iloc[0]
    page = client.get("/ui/sku", params={"q": row["sku"], "channel": row["channel"]}).text
    assert '<svg role="img" aria-label="fan"' in page
    assert f"{row['sku']} / {row['channel']}" in page
    # The legend names both levels with their values: the lines are drawn.
    assert f"reorder point {row['reorder_point']:,.1f}" in page
    assert f"safety stock {row['safety_stock']:,.1f}" in page
    for label in ("50% interval", "95% interval", "99% interval", "history"):
        assert label in page


def test_sku_search_without_match_says_so(client: TestClient) -> None:
    page = client.get("/ui/sku", params={"q": "no-such-sku"}).text
    assert "No SKU of run" in page and "aria-label=\"fan\"" not in page


def test_matrix_counts_add_up_to_every_series(client: TestClient, published: Published) -> None:
    page = client.get("/ui/matrix").text
    counts = [int(c) for c in re.findall(r'<div class="count">(\d+)</div>', page)]
    n_series = len(published.store.get_policies())
    assert sum(counts) == n_series
    assert f"{n_series} series" in page


def test_alert_filters(client: TestClient) -> None:
    everything = client.get("/ui/alerts").text
    assert everything.count('<tr class="alert ') == 2
    only = client.get("/ui/alerts", params={"type": "volatility_shift"}).text
    assert only.count('<tr class="alert ') == 1 and "alert-volatility_shift" in only
    future = client.get("/ui/alerts", params={"since": "2999-01-01"}).text
    assert future.count('<tr class="alert ') == 0


def test_alert_filter_rejects_a_bad_date(client: TestClient) -> None:
    response = client.get("/ui/alerts", params={"since": "yesterday-ish"})
    assert response.status_code == 422
    expected = "The &#39;since&#39; filter must be a date like 2024-05-01. Got &#39;yesterday-ish&#39;."
    assert expected in response.text


def test_drift_report_routes(client: TestClient, published: Published) -> None:
    latest = client.get("/reports/drift/latest").text
    stored = published.store.get_drift_report(published.report_id)
    assert stored is not None and latest == stored.html
    assert client.get(f"/reports/drift/{published.run_ids[-1]}").text == stored.html
    missing_report = client.get(f"/reports/drift/{published.run_ids[0]}")
    assert missing_report.status_code == 404 and "has no drift report" in missing_report.text
    assert client.get("/reports/drift/9999").status_code == 404


def test_pages_without_a_published_run(tmp_path: Path) -> None:
    client = TestClient(make_app(ResultStore(f"sqlite:///{tmp_path / 'empty.db'}")))
    assert client.get("/ui").status_code == 200
    for url in ("/ui/sku?q=x", "/ui/matrix", "/ui/suppliers", "/reports/drift/latest"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "blendcast" in response.text
