"""Segments, alerts, suppliers and models endpoints against a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from serving.api import create_app
from tests.serving.api_support import Api, build_run, make_api, publish, settings_for


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("views"), build_run())
    yield served
    served.client.close()


def test_segments_filter_by_abc_policy_and_channel(api: Api) -> None:
    frame = api.store.get_segments()
    everything = api.client.get("/v1/segments", headers=api.read).json()
    assert everything["total"] == len(frame)
    abc = str(frame["abc"].iloc[0])
    channel = str(frame["channel"].iloc[0])
    policy = str(frame["policy"].iloc[0])
    r = api.client.get("/v1/segments", params={"abc": abc, "channel": channel, "policy": policy},
                       headers=api.read).json()
    want = frame[(frame["abc"] == abc) & (frame["channel"] == channel) & (frame["policy"] == policy)]
    assert r["total"] == len(want) > 0
    assert all(i["abc"] == abc and i["channel"] == channel and i["policy"] == policy for i in r["items"])
    assert "cv" in r["items"][0]["figures"]
    page = api.client.get("/v1/segments", params={"limit": 2, "offset": 1}, headers=api.read).json()
    assert [i["sku"] for i in page["items"]] == [i["sku"] for i in everything["items"][1:3]]


def test_sku_segments_hold_current_channels_and_history(api: Api) -> None:
    frame = api.store.get_segments()
    sku = str(frame["sku"].iloc[0])
    body = api.client.get(f"/v1/segments/{sku}", headers=api.read).json()
    assert {row["channel"] for row in body["current"]} == set(frame.loc[frame["sku"] == sku, "channel"])
    history = api.store.segment_history(sku)
    assert len(body["history"]) == len(history) > 0
    assert body["history"][0]["history_run_id"] == int(history["run_id"].iloc[0])


def test_unknown_sku_segments_are_404_with_closest(api: Api) -> None:
    sku = str(api.store.get_segments()["sku"].iloc[0])
    r = api.client.get(f"/v1/segments/{sku}Z", headers=api.read)
    assert r.status_code == 404
    assert sku in r.json()["closest"]


def test_alerts_filter_by_since_and_type(api: Api) -> None:
    api.store.add_alerts([
        {"type": "segment_change", "severity": "warning", "sku": "A", "channel": "web",
         "payload": {"to": "B"}},
        {"type": "spike", "severity": "info", "sku": "B", "channel": "web", "payload": {}},
    ])
    all_alerts = api.client.get("/v1/alerts", headers=api.read).json()["items"]
    assert {a["type"] for a in all_alerts} >= {"segment_change", "spike"}
    only = api.client.get("/v1/alerts", params={"type": "spike"}, headers=api.read).json()["items"]
    assert only and all(a["type"] == "spike" for a in only)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert api.client.get("/v1/alerts", params={"since": future}, headers=api.read).json()["items"] == []
    assert api.client.get("/v1/alerts", params={"since": "yesterday"}, headers=api.read).status_code == 422


def test_suppliers_come_from_the_runs_audit(api: Api) -> None:
    body = api.client.get("/v1/suppliers", headers=api.read).json()
    audit = api.store.latest_run().metrics["supplier_audit"]  # type: ignore[union-attr]
    assert [s["supplier"] for s in body["suppliers"]] == [a["supplier"] for a in audit]
    first = body["suppliers"][0]
    assert {"n_receipts", "mean", "p90", "on_time_rate", "reliability"} <= set(first)
    assert first["mean"] == audit[0]["mean_days"]  # the audit's names are mapped to the API's


def test_suppliers_without_audit_are_503(tmp_path) -> None:
    run = build_run()
    bare = type(run)(run.forecasts, run.policies, run.segments, {"backtest_wspl": 0.5})
    api = make_api(tmp_path, bare)
    try:
        r = api.client.get("/v1/suppliers", headers=api.read)
        assert r.status_code == 503
        assert "no supplier audit" in r.json()["detail"]
    finally:
        api.client.close()


def test_models_fall_back_to_the_runs_version_when_the_registry_is_absent(api: Api) -> None:
    body = api.client.get("/v1/models", headers=api.read).json()
    assert body["model_version"] == "3"
    assert body["served_metrics"] == {"backtest_wspl": 0.42}
    assert body["registry"].startswith("unreachable")
    assert body["champion"] is None


def test_a_new_run_changes_every_view(api: Api) -> None:
    new_id = publish(api.store, build_run(), model_version="4")
    assert api.client.post("/v1/admin/reload", headers=api.admin).json()["run_id"] == new_id
    assert api.client.get("/v1/segments", headers=api.read).json()["run_id"] == new_id
    assert api.client.get("/v1/models", headers=api.read).json()["model_version"] == "4"


def test_an_unreachable_store_is_503_not_500(tmp_path) -> None:
    # A real PostgreSQL URL on a port where nothing listens: every query fails to connect.
    settings = settings_for(tmp_path, database_url="postgresql+psycopg://postgres@127.0.0.1:9/none")
    with TestClient(create_app(settings)) as client:
        r = client.get("/v1/alerts", headers={"X-API-Key": "bck_abc_def"})
        assert r.status_code == 503
        assert "result store is unavailable" in r.json()["detail"]
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["store"] is False
