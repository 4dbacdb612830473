"""Bad requests: one error shape, the field and the fix named, no 5xx, and nothing written to the store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute

from forecasting.inventory.rules import POLICIES
from forecasting.inventory.segmentation import ABC_CLASSES
from forecasting.persistence import ResultStore
from forecasting.persistence.tables import metadata
from forecasting.signals.alerts import ALERT_TYPES
from serving.api.routing import StrictJsonRoute
from serving.api.schemas import AbcClass, AlertType, PolicyName
from tests.serving.api_support import HORIZON, Api, build_run, make_api, publish

SLASH_SKU, SLASH_CHANNEL = "AB/12", "web/eu"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    run = build_run(n_skus=4)
    first = run.forecasts["sku"].iloc[0], run.forecasts["channel"].iloc[0]

    def renamed(frame: Any) -> Any:
        frame = frame.copy()
        hit = (frame["sku"] == first[0]) & (frame["channel"] == first[1])
        frame.loc[hit, "sku"], frame.loc[hit, "channel"] = SLASH_SKU, SLASH_CHANNEL
        return frame

    slashed = replace(run, forecasts=renamed(run.forecasts), policies=renamed(run.policies),
                      segments=renamed(run.segments))
    served = make_api(tmp_path_factory.mktemp("errors"), None)
    publish(served.store, slashed)
    served.client.post("/v1/admin/reload", headers=served.admin)
    yield served
    served.client.close()


@pytest.fixture(scope="module")
def key(api: Api) -> tuple[str, str]:
    frame = api.store.get_policies()
    row = frame[frame["sku"] != SLASH_SKU].iloc[0]
    return str(row["sku"]), str(row["channel"])


def snapshot(store: ResultStore) -> dict[str, int]:
    """Rows per table of the store (a bad request must leave every count as it was)."""
    with store.engine.connect() as conn:
        return {table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in metadata.sorted_tables
                if sa.inspect(conn).has_table(table.name)}


def _item(key: tuple[str, str], **change: Any) -> dict[str, Any]:
    return {"sku": key[0], "channel": key[1], "on_hand": 3, **change}


# (name, method, path, json body or raw text, query, status, field, words of the fix)
BAD: list[tuple[str, str, str, Any, dict[str, str], int, str, str]] = [
    ("nan_on_hand", "POST", "/v1/replenishment", '{"sku":"{S}","channel":"{C}","on_hand":NaN}', {}, 422,
     "body", "NaN, Infinity"),
    ("infinity", "POST", "/v1/replenishment", '{"sku":"{S}","channel":"{C}","on_hand":Infinity}', {}, 422,
     "body", "not JSON numbers"),
    ("huge_horizon_1e400", "POST", "/v1/forecasts:batch",
     '{"items":[{"sku":"{S}","channel":"{C}"}],"horizon":1e400}', {}, 422, "body", "beyond +-1.8e308"),
    ("truncated_json", "POST", "/v1/replenishment", '{"sku":', {}, 422, "body", "valid JSON"),
    ("negative_on_hand", "POST", "/v1/replenishment", {"on_hand": -1}, {}, 422, "on_hand",
     "send a number >= 0"),
    ("bool_backorders", "POST", "/v1/replenishment", {"backorders": False}, {}, 422, "backorders",
     "not a string, boolean"),
    ("string_on_hand", "POST", "/v1/replenishment", {"on_hand": "12"}, {}, 422, "on_hand", "JSON number"),
    ("service_level_one", "POST", "/v1/replenishment", {"service_level": 1.0}, {}, 422, "service_level",
     "send a number < 1"),
    ("lead_time_zero", "POST", "/v1/replenishment", {"lead_time_days": 0}, {}, 422, "lead_time_days",
     "send a number > 0"),
    ("unknown_field", "POST", "/v1/replenishment", {"colour": "red"}, {}, 422, "colour", "remove 'colour'"),
    ("missing_on_hand", "POST", "/v1/replenishment", {"on_hand": None}, {}, 422, "on_hand", "add 'on_hand'"),
    ("batch_item_bad", "POST", "/v1/replenishment", {"items": [{"sku": "x", "channel": "y", "on_hand": -2}]},
     {}, 422, "items[0].on_hand", "send a number >= 0"),
    ("batch_empty", "POST", "/v1/forecasts:batch", {"items": []}, {}, 422, "items", "at least 1 items"),
    ("batch_quantile_one", "POST", "/v1/forecasts:batch", {"quantiles": [1.0]}, {}, 422, "quantiles[0]",
     "send a number < 1"),
    ("batch_horizon_string", "POST", "/v1/forecasts:batch", {"horizon": "7"}, {}, 422, "horizon",
     "whole number"),
    ("batch_horizon_zero", "POST", "/v1/forecasts:batch", {"horizon": 0}, {}, 422, "horizon", ">= 1"),
    ("batch_horizon_cap", "POST", "/v1/forecasts:batch", {"horizon": 10_000}, {}, 422, "horizon",
     f"{HORIZON} days or fewer"),
    ("horizon_past_run", "GET", "/v1/forecasts/{S}/{C}", None, {"horizon": "365"}, 400, "horizon",
     f"{HORIZON} days or fewer"),
    ("horizon_past_cap", "GET", "/v1/forecasts/{S}/{C}", None, {"horizon": "10000"}, 422, "horizon",
     f"{HORIZON} days or fewer"),
    ("horizon_fraction", "GET", "/v1/forecasts/{S}/{C}", None, {"horizon": "1.5"}, 422, "horizon",
     "whole number"),
    ("quantile_unpublished", "GET", "/v1/forecasts/{S}/{C}", None, {"quantiles": "0.123"}, 400, "quantiles",
     "ask for some of those"),
    ("segments_abc", "GET", "/v1/segments", None, {"abc": "Z"}, 422, "abc", "'A', 'B' or 'C'"),
    ("segments_policy", "GET", "/v1/segments", None, {"policy": "bogus"}, 422, "policy", "'SEASONAL_HYBRID'"),
    ("segments_limit", "GET", "/v1/segments", None, {"limit": "0"}, 422, "limit", ">= 1"),
    ("alerts_type", "GET", "/v1/alerts", None, {"type": "foo"}, 422, "type", "'segment_change'"),
    ("alerts_since_number", "GET", "/v1/alerts", None, {"since": "0.5"}, 422, "since", "ISO 8601"),
    ("alerts_since_word", "GET", "/v1/alerts", None, {"since": "yesterday"}, 422, "since", "ISO 8601"),
    ("unknown_sku", "GET", "/v1/forecasts/NOPE_SKU/{C}", None, {}, 404, "NOPE_SKU", "check the SKU"),
    ("unknown_segment_sku", "GET", "/v1/segments/NOPE_SKU", None, {}, 404, "NOPE_SKU", "check the SKU"),
    ("drift_run_overflow", "GET", "/reports/drift/9223372036854775808", None, {}, 422, "run_id",
     "<= 9223372036854775807"),
    ("wrong_method", "DELETE", "/v1/segments", None, {}, 405, "DELETE", "use one of: GET"),
    ("no_such_route", "GET", "/v1/nothing-here", None, {}, 404, "/v1/nothing-here", "/docs"),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "query", "status", "field", "fix"), BAD,
                         ids=[case[0] for case in BAD])
def test_bad_request_names_the_field_and_the_fix(api: Api, key: tuple[str, str], name: str, method: str,
                                                 path: str, body: Any, query: dict[str, str], status: int,
                                                 field: str, fix: str) -> None:
    before = snapshot(api.store)
    url = path.replace("{S}", key[0]).replace("{C}", key[1])
    kwargs: dict[str, Any] = {"params": query, "headers": api.read}
    if isinstance(body, str):
        kwargs["content"] = body.replace("{S}", key[0]).replace("{C}", key[1])
        kwargs["headers"] = {**api.read, "Content-Type": "application/json"}
    elif isinstance(body, dict):
        if url == "/v1/replenishment" and "items" not in body:
            body = {k: v for k, v in _item(key, **body).items() if v is not None}
        elif url == "/v1/forecasts:batch" and "items" not in body:
            body = {"items": [{"sku": key[0], "channel": key[1]}], **body}
        kwargs["json"] = body
    r = api.client.request(method, url, **kwargs)
    assert r.status_code == status, r.text
    payload = r.json()
    assert isinstance(payload["detail"], str)
    assert field in payload["detail"], payload["detail"]
    assert "Fix:" in payload["detail"] and fix in payload["detail"], payload["detail"]
    if status == 422:
        entries = payload["errors"]
        assert entries and all({"field", "in", "message", "fix"} <= set(e) for e in entries)
    assert snapshot(api.store) == before


def test_a_bad_single_item_reports_only_its_own_fields(api: Api, key: tuple[str, str]) -> None:
    r = api.client.post("/v1/replenishment", json=_item(key, on_hand=-1, service_level=2),
                        headers=api.read)
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["on_hand", "service_level"]
    assert "ReplenishmentBatch" not in r.text and "items" not in r.text


def test_nan_and_infinity_never_reach_validation(api: Api, key: tuple[str, str]) -> None:
    for value in ("NaN", "-Infinity", "1e400", "-1e999"):
        text = f'{{"sku":"{key[0]}","channel":"{key[1]}","on_hand":{value}}}'
        r = api.client.post("/v1/replenishment", content=text,
                            headers={**api.read, "Content-Type": "application/json"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "json_invalid"


def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI keeps included routers whole
        yield from _routes(inner.routes) if inner is not None else [route]


def test_every_api_route_parses_json_strictly(api: Api) -> None:
    app: Any = api.client.app
    routes = [r for r in _routes(app.routes) if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(routes) >= 12
    assert [r.path for r in routes if not isinstance(r, StrictJsonRoute)] == []


def test_query_enums_are_the_domain_values() -> None:
    assert get_args(AbcClass) == ABC_CLASSES
    assert get_args(PolicyName) == POLICIES
    assert get_args(AlertType) == ALERT_TYPES


def test_schema_states_the_served_horizon_levels_and_errors(api: Api) -> None:
    spec = api.client.app.openapi()  # type: ignore[attr-defined]
    get_op = spec["paths"]["/v1/forecasts/{sku}/{channel}"]["get"]
    horizon = next(p for p in get_op["parameters"] if p["name"] == "horizon")
    assert horizon["schema"]["anyOf"][0]["maximum"] == HORIZON
    batch = spec["components"]["schemas"]["ForecastBatchRequest"]["properties"]
    assert batch["horizon"]["anyOf"][0]["maximum"] == HORIZON
    level = batch["quantiles"]["anyOf"][0]["items"]
    assert (level["exclusiveMinimum"], level["exclusiveMaximum"]) == (0, 1)
    for path, ops in spec["paths"].items():
        for op in ops.values():
            if path.startswith("/v1/"):
                assert {"401", "413", "422"} <= set(op["responses"]), path
                assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/ErrorBody")


@pytest.mark.parametrize("path", [
    f"/v1/forecasts/{SLASH_SKU}/{SLASH_CHANNEL}",
    "/v1/forecasts/AB%2F12/web%2Feu",
])
def test_sku_and_channel_with_a_slash_are_reachable(api: Api, path: str) -> None:
    r = api.client.get(path, params={"horizon": 3}, headers=api.read)
    assert r.status_code == 200, r.text
    assert (r.json()["sku"], r.json()["channel"]) == (SLASH_SKU, SLASH_CHANNEL)
    assert len(r.json()["mean"]) == 3


def test_segments_of_a_sku_with_a_slash(api: Api) -> None:
    r = api.client.get(f"/v1/segments/{SLASH_SKU}", headers=api.read)
    assert r.status_code == 200, r.text
    assert [row["channel"] for row in r.json()["current"]] == [SLASH_CHANNEL]


def test_replenishment_of_a_sku_with_a_slash(api: Api) -> None:
    r = api.client.post("/v1/replenishment", json=_item((SLASH_SKU, SLASH_CHANNEL)), headers=api.read)
    assert r.status_code == 200, r.text


def test_body_over_the_limit_is_413_in_the_one_shape(tmp_path: Path) -> None:
    small = make_api(tmp_path, build_run(n_skus=4), max_request_bytes=2000)
    try:
        items = [{"sku": f"SKU{i:05d}", "channel": "web"} for i in range(200)]
        r = small.client.post("/v1/forecasts:batch", json={"items": items}, headers=small.read)
        assert r.status_code == 413
        assert "2000 bytes" in r.json()["detail"] and "Fix:" in r.json()["detail"]
    finally:
        small.client.close()


def test_a_path_without_the_channel_is_a_404_not_a_redirect(api: Api, key: tuple[str, str]) -> None:
    r = api.client.get(f"/v1/forecasts/{key[0]}", headers=api.read, follow_redirects=False)
    assert r.status_code == 404 and "Fix:" in r.json()["detail"]
