"""Forecast endpoints against a real SQLite store with a published SeasonalNaive run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from features.schema import M5_QUANTILES, quantile_column
from tests.serving.api_support import HORIZON, Api, build_run, first_key, make_api, publish


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("forecasts"), build_run())
    yield served
    served.client.close()


def test_single_forecast_matches_the_published_frame(api: Api) -> None:
    frame = api.store.get_forecasts()
    sku, channel = first_key(api.store)
    expected = frame[(frame["sku"] == sku) & (frame["channel"] == channel)]
    r = api.client.get(f"/v1/forecasts/{sku}/{channel}", headers=api.read)
    assert r.status_code == 200
    body = r.json()
    run = api.store.latest_run()
    assert run is not None and run.published_at is not None
    assert body["run_id"] == run.id
    assert body["model_version"] == run.model_version
    assert body["run_date"].startswith(str(run.published_at.date()))
    assert body["horizon"] == HORIZON
    assert body["levels"] == list(M5_QUANTILES)
    assert body["dates"] == expected["date"].dt.strftime("%Y-%m-%d").tolist()
    assert body["mean"] == expected["mean"].tolist()  # exactly as published
    for q in M5_QUANTILES:
        assert body["quantiles"][quantile_column(q)] == expected[quantile_column(q)].tolist()


def test_horizon_and_quantiles_select_days_and_levels(api: Api) -> None:
    sku, channel = first_key(api.store)
    r = api.client.get(f"/v1/forecasts/{sku}/{channel}", params={"horizon": 3, "quantiles": "0.975,0.5"},
                       headers=api.read)
    assert r.status_code == 200
    body = r.json()
    assert len(body["dates"]) == len(body["mean"]) == 3
    assert body["levels"] == [0.5, 0.975]
    assert set(body["quantiles"]) == {"0.5", "0.975"}
    assert all(len(v) == 3 for v in body["quantiles"].values())


def test_horizon_past_the_published_one_is_400_naming_the_maximum(api: Api) -> None:
    sku, channel = first_key(api.store)
    r = api.client.get(f"/v1/forecasts/{sku}/{channel}", params={"horizon": HORIZON + 1}, headers=api.read)
    assert r.status_code == 400
    assert f"at most {HORIZON} days" in r.json()["detail"]
    assert r.json()["max_horizon"] == HORIZON


@pytest.mark.parametrize("quantiles", ["0.42", "abc", "1.5", "0.50", "0.5,"])
def test_bad_quantiles_are_400(api: Api, quantiles: str) -> None:
    """Query levels are written as the run lists them (the schema's pattern names them)."""
    sku, channel = first_key(api.store)
    r = api.client.get(f"/v1/forecasts/{sku}/{channel}", params={"quantiles": quantiles}, headers=api.read)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "are not levels of run" in detail and "Published levels: ['0.005'" in detail


def test_unknown_sku_is_404_with_the_closest_matches(api: Api) -> None:
    sku, channel = first_key(api.store)
    typo = sku[:-1] + ("9" if sku[-1] != "9" else "8")
    r = api.client.get(f"/v1/forecasts/{typo}/{channel}", headers=api.read)
    assert r.status_code == 404
    body = r.json()
    assert f"Unknown SKU '{typo}'" in body["detail"]
    assert any(match.startswith(sku[:-1]) for match in body["closest"])


def test_unknown_channel_is_404_listing_the_skus_channels(api: Api) -> None:
    sku, channel = first_key(api.store)
    r = api.client.get(f"/v1/forecasts/{sku}/{channel}x", headers=api.read)
    assert r.status_code == 404
    assert f"{sku}/{channel}" in r.json()["closest"]
    assert "Its channels are" in r.json()["detail"]


def test_batch_returns_known_series_and_lists_unknown_ones(api: Api) -> None:
    frame = api.store.get_forecasts()
    keys = frame[["sku", "channel"]].drop_duplicates().head(5).to_dict("records")
    items = [*keys, {"sku": "NOPE", "channel": keys[0]["channel"]}]
    r = api.client.post("/v1/forecasts:batch", json={"items": items, "horizon": 7, "quantiles": [0.5]},
                        headers=api.read)
    assert r.status_code == 200
    body = r.json()
    assert [(f["sku"], f["channel"]) for f in body["forecasts"]] == [(k["sku"], k["channel"]) for k in keys]
    assert all(len(f["dates"]) == len(f["quantiles"]["0.5"]) == 7 for f in body["forecasts"])
    assert body["not_found"][0]["sku"] == "NOPE"
    single = api.client.get(f"/v1/forecasts/{keys[1]['sku']}/{keys[1]['channel']}",
                            params={"horizon": 7, "quantiles": "0.5"}, headers=api.read).json()
    for field in ("dates", "mean", "quantiles"):
        assert body["forecasts"][1][field] == single[field]


def test_batch_limits_are_422_with_field_paths(api: Api) -> None:
    too_many = [{"sku": f"s{i}", "channel": "c"} for i in range(10_001)]
    r = api.client.post("/v1/forecasts:batch", json={"items": too_many}, headers=api.read)
    assert r.status_code == 422
    r = api.client.post("/v1/forecasts:batch", json={"items": [{"sku": "a"}]}, headers=api.read)
    assert r.status_code == 422
    body = r.json()
    entries = [(e["in"], e["field"], e["type"]) for e in body["errors"]]
    assert entries == [("body", "items[0].channel", "missing")]
    assert "items[0].channel" in body["detail"] and "Fix: add 'channel'" in body["detail"]


def test_data_endpoints_are_503_before_any_run_and_ready_is_false(tmp_path: Path) -> None:
    empty = make_api(tmp_path, None)
    try:
        r = empty.client.get("/v1/forecasts/a/b", headers=empty.read)
        assert r.status_code == 503
        assert "No forecast run is published yet" in r.json()["detail"]
        for path in ("/v1/segments", "/v1/suppliers", "/v1/models"):
            assert empty.client.get(path, headers=empty.read).status_code == 503
        ready = empty.client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False and ready.json()["store"] is True
        assert empty.client.get("/health").status_code == 200
        # A run published later is picked up by a reload without restarting.
        run_id = publish(empty.store, build_run())
        assert empty.client.post("/v1/admin/reload", headers=empty.admin).json()["run_id"] == run_id
        assert empty.client.get("/ready").json()["run_id"] == run_id
    finally:
        empty.client.close()
