"""Schema-driven fuzzing: values drawn from the OpenAPI schema (and beyond it) never cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.api_support import Api, build_run, make_api

OPERATIONS = [
    ("get", "/v1/forecasts/{sku}/{channel}"),
    ("post", "/v1/forecasts:batch"),
    ("post", "/v1/replenishment"),
    ("get", "/v1/purchase-orders"),
    ("get", "/v1/kpis"),
    ("post", "/v1/scenarios"),
    ("get", "/v1/segments"),
    ("get", "/v1/segments/{sku}"),
    ("get", "/v1/alerts"),
    ("get", "/v1/suppliers"),
    ("get", "/v1/models"),
    ("post", "/v1/admin/reload"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
]
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                               st.dictionaries(st.text(max_size=8), inner,
                                                                               max_size=3)), max_leaves=8)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("fuzz"), build_run(n_skus=4))
    yield served
    served.client.close()


def _from_schema(schema: dict[str, Any], spec: dict[str, Any], known: list[str], depth: int = 0) -> Any:
    """A strategy for values of ``schema``: mostly valid-shaped, sometimes anything at all."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return st.one_of([_from_schema(s, spec, known, depth) for s in schema[union]])
    if "enum" in schema:
        # Declared values most of the time, so the handlers are reached, and anything else sometimes.
        declared = st.sampled_from(schema["enum"])
        return st.one_of(declared, declared, st.text(max_size=12))
    kind = schema.get("type")
    if kind == "object" and depth < 4:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {k: _from_schema(v, spec, known, depth + 1) for k, v in props.items()}
        return st.fixed_dictionaries({k: v for k, v in fields.items() if k in required},
                                     optional={k: v for k, v in fields.items() if k not in required})
    if kind == "array" and depth < 4:
        return st.lists(_from_schema(schema.get("items", {}), spec, known, depth + 1), max_size=4)
    if kind == "string" and schema.get("format") == "date":
        return st.one_of(st.dates().map(date.isoformat), st.text(max_size=12))
    if kind == "string":
        return st.one_of(st.sampled_from(known), st.text(max_size=20))
    if kind == "integer":
        return st.integers(-5, 5000)
    if kind == "number":
        edges = st.sampled_from([0, 0.5, 0.95, 0.999, 1, 1e13])
        return st.one_of(st.floats(-10, 400, allow_nan=False), edges)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


def test_every_operation_of_the_schema_is_fuzzed(api: Api) -> None:
    spec = api.client.app.openapi()  # type: ignore[attr-defined]
    found = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert found == set(OPERATIONS)
    assert spec["components"]["schemas"]["ForecastBatchRequest"]["examples"]
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for method, path in OPERATIONS:
        secured = "security" in spec["paths"][path][method]
        assert secured == path.startswith("/v1/"), (method, path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(api: Api, method: str, path: str) -> None:
    spec = api.client.app.openapi()  # type: ignore[attr-defined]
    op = spec["paths"][path][method]
    frame = api.store.get_forecasts()
    known = [*frame["sku"].unique().tolist(), *frame["channel"].unique().tolist(), "A", "JIT", "0.5"]
    params = {p["name"]: (p["in"], _from_schema(p["schema"], spec, known)) for p in op.get("parameters", [])}
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    body = st.one_of(_from_schema(body_schema, spec, known), ANY_JSON) if body_schema else st.none()
    headers = api.admin if path.startswith("/v1/admin") else api.read
    statuses: list[int] = []

    # Derandomized: the same examples on every run, so the "reached the handlers" check cannot flake.
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    @given(values=st.fixed_dictionaries({k: v for k, (_, v) in params.items()}), payload=body)
    def run(values: dict[str, Any], payload: Any) -> None:
        url = path
        query = {}
        for name, (where, _) in params.items():
            value = values[name]
            if where == "path":
                url = url.replace("{" + name + "}", quote(str(value), safe="") or "x")
            elif value is not None:
                query[name] = str(value)
        kwargs: dict[str, Any] = {"params": query, "headers": headers}
        if body_schema is not None:
            kwargs["json"] = payload
        r = api.client.request(method.upper(), url, **kwargs)
        statuses.append(r.status_code)
        assert r.status_code < 500, f"{method.upper()} {url} {query} {payload!r} -> {r.text[:300]}"

    run()
    # The fuzzing reached the handlers (their own 2xx/400/404/503), not only the validation layer.
    assert any(code != 422 for code in statuses), statuses
