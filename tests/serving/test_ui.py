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
from forecasting.infrastructure.settings import Settings
from forecasting.inventory.segmentation import segment
from forecasting.persistence import ResultStore
from models.registry import make_model
from serving.reports import run_drift
from serving.ui import register_pages
from serving.ui.access import COOKIE

EVIL_SKU = "<script>alert(1)</script>"


@dataclass
class Published:
    """A store with two published runs (7 days apart), policies, alerts and a drift report."""

    store: ResultStore
    data: Dataset
    run_ids: list[int]
    report_id: int


def _policies(forecast: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    totals = forecast.groupby(["sku", "channel"], as_index=False, observed=True).agg(mean=("mean", "mean"),
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


def make_app(store: ResultStore, sales: pd.DataFrame | None = None, public: bool = False) -> FastAPI:
    """A tiny app with only the pages (the API's create_app includes them too)."""
    app = FastAPI()
    app.state.store = store
    app.state.ui_sales = sales
    app.state.settings = Settings(home=Path(store.url.removeprefix("sqlite:///")).parent, public_pages=public)
    register_pages(app)
    return app


def key_client(app: FastAPI, store: ResultStore) -> TestClient:
    """A client sending a fresh read key as a header."""
    _, key = store.create_api_key("read", "pages")
    return TestClient(app, headers={"X-API-Key": key})


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    pub = make_published_store(tmp_path_factory.mktemp("ui"))
    yield pub
    pub.store.dispose()


@pytest.fixture(scope="module")
def client(published: Published) -> TestClient:
    return key_client(make_app(published.store, published.data.sales), published.store)


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
    # The stock panel (its own axis) names both levels and labels each bar with its value.
    assert "reorder point" in page and "safety stock" in page
    assert f" {row['reorder_point']:,.1f}" in page and f" {row['safety_stock']:,.1f}" in page
    assert "units in stock" in page
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
    store = ResultStore(f"sqlite:///{tmp_path / 'empty.db'}")
    client = key_client(make_app(store), store)
    assert client.get("/ui").status_code == 200
    for url in ("/ui/sku?q=x", "/ui/matrix", "/ui/suppliers", "/reports/drift/latest"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "blendcast" in response.text


@pytest.mark.parametrize("url", ["/ui", "/ui/matrix", "/ui/alerts", "/ui/orders", "/reports/drift/latest"])
def test_pages_without_a_key_answer_the_sign_in_form(published: Published, url: str) -> None:
    client = TestClient(make_app(published.store))
    response = client.get(url, headers={"X-API-Key": "bck_00000000_wrong"} if url == "/ui" else {})
    assert response.status_code == 401
    assert 'form method="post" action="/ui/login"' in response.text
    assert f'name="next" value="{url}"' in response.text
    assert "Fix:" in response.text or "Sign in with an API key" in response.text
    assert "Served run" not in response.text and "<svg" not in response.text


def test_sign_in_sets_an_httponly_cookie_and_a_revoked_key_stops_at_once(published: Published) -> None:
    client = TestClient(make_app(published.store))
    key_id, key = published.store.create_api_key("read", "browser")
    bad = client.post("/ui/login", data={"key": "bck_00000000_nope", "next": "/ui/matrix"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text and COOKIE not in bad.cookies
    ok = client.post("/ui/login", data={"key": key, "next": "/ui/matrix"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/ui/matrix"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert client.get("/ui/matrix").status_code == 200
    published.store.revoke_api_key(key_id)
    assert client.get("/ui/matrix").status_code == 401
    assert client.post("/ui/logout", follow_redirects=False).headers["location"] == "/ui/login"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/v1/alerts", "/ui\\@evil"])
def test_sign_in_only_returns_to_pages_of_this_site(published: Published, target: str) -> None:
    _, key = published.store.create_api_key("read", "redirect")
    client = TestClient(make_app(published.store))
    ok = client.post("/ui/login", data={"key": key, "next": target}, follow_redirects=False)
    assert ok.headers["location"] == "/ui"


def test_overview_with_a_trailing_slash(client: TestClient) -> None:
    assert client.get("/ui/", follow_redirects=False).status_code == 200


def test_public_pages_switch_serves_without_a_key(published: Published) -> None:
    client = TestClient(make_app(published.store, public=True))
    assert client.get("/ui/matrix").status_code == 200
    assert client.get("/reports/drift/latest").status_code == 200
