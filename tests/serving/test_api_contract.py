"""Response bodies match their declared models: every field declared, nothing undeclared, right types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from serving.api.schemas import ErrorBody
from tests.serving.api_support import Api, build_run, first_key, make_api
from tests.serving.test_api_errors import _routes


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("contract"), build_run(n_skus=4))
    yield served
    served.client.close()


def _route(api: Api, method: str, template: str) -> APIRoute:
    app: Any = api.client.app
    return next(r for r in _routes(app.routes) if isinstance(r, APIRoute) and r.path_format == template
                and method in r.methods)


def _models(annotation: Any) -> list[type[BaseModel]]:
    args = get_args(annotation)
    if args:
        return [m for a in args for m in _models(a)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _check(body: Any, annotation: Any) -> None:
    TypeAdapter(annotation).validate_python(body)
    models = _models(annotation)
    declared = set().union(*(set(m.model_fields) for m in models))
    assert set(body) <= declared, set(body) - declared


CASES = [
    ("GET", "/v1/forecasts/{sku}/{channel}", None, {"horizon": 7, "quantiles": "0.5,0.975"}),
    ("POST", "/v1/forecasts:batch", {"items": [{"sku": "{S}", "channel": "{C}"},
                                               {"sku": "nope", "channel": "{C}"}], "horizon": 5}, {}),
    ("POST", "/v1/replenishment", {"sku": "{S}", "channel": "{C}", "on_hand": 2}, {}),
    ("POST", "/v1/replenishment", {"items": [{"sku": "{S}", "channel": "{C}", "on_hand": 2},
                                             {"sku": "nope", "channel": "{C}", "on_hand": 0}]}, {}),
    ("GET", "/v1/segments", None, {"abc": "A", "limit": 3}),
    ("GET", "/v1/segments/{sku}", None, {}),
    ("GET", "/v1/alerts", None, {"limit": 5}),
    ("GET", "/v1/suppliers", None, {}),
    ("GET", "/v1/models", None, {}),
    ("POST", "/v1/admin/reload", None, {}),
    ("GET", "/ready", None, {}),
]


@pytest.mark.parametrize(("method", "template", "body", "query"), CASES,
                         ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_success_bodies_match_the_declared_model(api: Api, method: str, template: str, body: Any,
                                                 query: dict[str, Any]) -> None:
    sku, channel = first_key(api.store)
    url = template.replace("{sku}", sku).replace("{channel}", channel)
    payload = None
    if body is not None:
        payload = json.loads(json.dumps(body).replace("{S}", sku).replace("{C}", channel))
    headers = api.admin if "admin" in template else api.read
    r = api.client.request(method, url, json=payload, params=query, headers=headers)
    assert r.status_code == 200, r.text
    _check(r.json(), _route(api, method, template).response_model)


@pytest.mark.parametrize(("method", "url", "body"), [
    ("GET", "/v1/forecasts/NOPE/x", None), ("POST", "/v1/replenishment", {"sku": "a"}),
    ("GET", "/v1/segments?abc=Q", None), ("POST", "/v1/forecasts:batch", {"items": []}),
])
def test_error_bodies_match_the_error_model(api: Api, method: str, url: str, body: Any) -> None:
    r = api.client.request(method, url, json=body, headers=api.read)
    assert 400 <= r.status_code < 500
    ErrorBody.model_validate(r.json())
    assert isinstance(r.json()["detail"], str) and "Fix:" in r.json()["detail"]
