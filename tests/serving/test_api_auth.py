"""API keys (missing, unknown, revoked, read on admin), open operational endpoints, 413 and CORS."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.api.auth import key_id
from tests.serving.api_support import Api, build_run, first_key, make_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("auth"), build_run(), max_request_bytes=4_000)
    yield served
    served.client.close()


def _path(api: Api) -> str:
    sku, channel = first_key(api.store)
    return f"/v1/forecasts/{sku}/{channel}"


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Missing API key"),
        ({"X-API-Key": "bck_nothere_secret"}, 401, "Unknown or revoked API key"),
        ({"Authorization": "Bearer not-a-key"}, 401, "Unknown or revoked API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "not of the form 'Bearer <key>'"),
        ({"Authorization": "Bearer "}, 401, "not of the form 'Bearer <key>'"),
        ({"X-API-Key": " "}, 401, "X-API-Key header is empty"),
    ],
)
def test_queries_need_a_valid_key(api: Api, headers: dict[str, str], status: int, message: str) -> None:
    r = api.client.get(_path(api), headers=headers)
    assert r.status_code == status
    assert message in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_two_different_keys_are_refused_even_if_one_is_valid(api: Api) -> None:
    r = api.client.get(_path(api), headers={**api.read, "Authorization": "Bearer bck_00000000_other"})
    assert r.status_code == 401 and "Two different keys" in r.json()["detail"]
    both = {**api.read, "Authorization": f"Bearer {api.read['X-API-Key']}"}
    assert api.client.get(_path(api), headers=both).status_code == 200


def test_read_and_admin_keys_both_read_in_either_header(api: Api) -> None:
    admin_key = api.admin["Authorization"].removeprefix("Bearer ")
    for headers in (api.read, api.admin, {"X-API-Key": admin_key},
                    {"Authorization": f"Bearer {api.read['X-API-Key']}"}):
        assert api.client.get(_path(api), headers=headers).status_code == 200


def test_read_key_on_admin_endpoint_is_403_and_admin_key_is_allowed(api: Api) -> None:
    r = api.client.post("/v1/admin/reload", headers=api.read)
    assert r.status_code == 403
    assert "scope 'admin'" in r.json()["detail"]
    assert api.client.post("/v1/admin/reload").status_code == 401
    ok = api.client.post("/v1/admin/reload", headers=api.admin)
    assert ok.status_code == 200
    assert ok.json()["swapped"] is False


def test_error_messages_never_echo_the_key(api: Api) -> None:
    secret = "bck_abcd1234_" + "s" * 40
    r = api.client.get(_path(api), headers={"X-API-Key": secret})
    assert r.status_code == 401
    assert secret not in r.text
    assert "s" * 40 not in r.text


def test_operational_endpoints_need_no_key(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "alive"}
    ready = api.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    api.client.get(_path(api), headers=api.read)
    text = api.client.get("/metrics").text
    run = api.store.latest_run()
    assert run is not None
    assert f"blendcast_served_run_id {float(run.id)}" in text
    assert 'blendcast_served_model_info{model_version="3"} 1.0' in text
    assert 'route="/v1/forecasts/{sku}/{channel}"' in text
    assert "blendcast_http_request_duration_seconds_bucket" in text


def test_a_revoked_key_is_refused_on_the_next_request_by_every_app(tmp_path: Path) -> None:
    """Two apps on one store stand for two workers: the revocation counts at once in both."""
    from fastapi.testclient import TestClient

    from serving.api import create_app

    api = make_api(tmp_path, build_run(n_skus=4))
    other = TestClient(create_app(api.client.app.state.settings))  # type: ignore[attr-defined]
    other.__enter__()
    try:
        key_id, key = api.store.create_api_key("read", "revoke-me")
        path, headers = _path(api), {"X-API-Key": key}
        assert api.client.get(path, headers=headers).status_code == 200
        assert other.get(path, headers=headers).status_code == 200
        api.store.revoke_api_key(key_id)
        for client in (api.client, other):
            r = client.get(path, headers=headers)
            assert r.status_code == 401 and "revoked" in r.json()["detail"]
    finally:
        other.__exit__(None, None, None)
        api.client.close()


def test_key_ids_in_logs_are_the_public_prefix_only() -> None:
    assert key_id("bck_abcd1234_" + "s" * 40) == "bck_abcd1234"
    assert key_id("my-password") == "malformed"
    assert key_id(None) == "-"


def test_bodies_over_the_limit_are_413_before_parsing(api: Api) -> None:
    items = [{"sku": f"SKU{i:05d}", "channel": "web"} for i in range(200)]
    r = api.client.post("/v1/forecasts:batch", json={"items": items}, headers=api.read)
    assert r.status_code == 413
    assert "4000 bytes" in r.json()["detail"]


def test_chunked_bodies_over_the_limit_are_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"items": ['
        for i in range(300):
            yield b'{"sku": "SKU%05d", "channel": "web"},' % i
        yield b'{"sku": "x", "channel": "y"}]}'

    r = api.client.post("/v1/forecasts:batch", content=chunks(),
                        headers={**api.read, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_cors_is_off_by_default_and_on_for_configured_origins(api: Api, tmp_path: Path) -> None:
    r = api.client.get("/health", headers={"Origin": "https://ims.example"})
    assert "access-control-allow-origin" not in r.headers
    cors = make_api(tmp_path, None, cors_origins=["https://ims.example"])
    try:
        r = cors.client.get("/health", headers={"Origin": "https://ims.example"})
        assert r.headers["access-control-allow-origin"] == "https://ims.example"
        other = cors.client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    finally:
        cors.client.close()


@pytest.mark.parametrize(("header", "size"), [("Authorization", 10_000_000), ("X-API-Key", 9_000),
                                               ("X-Filler", 40_000)])
def test_oversized_headers_are_431_before_any_key_check(api: Api, header: str, size: int) -> None:
    value = ("Bearer " if header == "Authorization" else "") + "k" * size
    r = api.client.get(_path(api), headers={header: value})
    assert r.status_code == 431
    assert "Fix:" in r.json()["detail"] and "limit" in r.json()["detail"]
    assert "k" * 100 not in r.text


def test_one_access_log_line_per_request_names_the_key_by_its_prefix(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    secret = api.read["X-API-Key"]
    with caplog.at_level(logging.INFO, logger="blendcast.access"):
        api.client.get(_path(api), headers=api.read)
        api.client.get("/v1/segments", params={"abc": "Z"}, headers=api.read)
        api.client.get("/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "blendcast.access"]
    assert len(lines) == 3
    prefix = secret[:12]  # bck_ + 8 hex: the public part
    assert re.fullmatch(rf"GET {re.escape(_path(api))} 200 \d+\.\dms key={prefix}", lines[0]), lines[0]
    assert lines[1].startswith("GET /v1/segments 422 ") and lines[2].endswith("key=-")
    assert all(secret not in line for line in lines)
