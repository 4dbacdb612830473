"""POST /v1/replenishment: single and batch order advice from the published policies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serving.api_support import Api, build_run, make_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("replenishment"), build_run())
    yield served
    served.client.close()


@pytest.fixture(scope="module")
def policies(api: Api) -> list[dict]:
    return api.store.get_policies().to_dict("records")


def test_single_item_returns_policy_reasons_and_the_order(api: Api, policies: list[dict]) -> None:
    row = policies[0]
    body = {"sku": row["sku"], "channel": row["channel"], "on_hand": 0, "on_order": 0, "backorders": 0}
    r = api.client.post("/v1/replenishment", json=body, headers=api.read)
    assert r.status_code == 200
    out = r.json()
    assert out["run_id"] == api.store.latest_run().id  # type: ignore[union-attr]
    assert out["policy"] == row["policy"]
    assert out["segment"]["abc"] == row["abc"]
    assert out["reasons"] == list(row["reasons"])
    assert out["source"] == "published"
    assert out["reorder_point"] == pytest.approx(row["reorder_point"])
    assert out["order_up_to"] == pytest.approx(row["order_up_to"])
    assert out["lead_time_demand"]["mean"] == pytest.approx(row["expected_demand"])
    assert set(out["lead_time_demand"]["quantiles"]) == {f"{q:g}" for q in row["ltd_levels"]}
    assert out["order_now"] == (row["order_up_to"] > 0)
    if out["order_now"]:
        assert out["order_qty"] >= row["order_up_to"]
        assert out["order_qty"] % out["pack_size"] == 0


def test_a_full_shelf_orders_nothing(api: Api, policies: list[dict]) -> None:
    row = policies[1]
    body = {"sku": row["sku"], "channel": row["channel"], "on_hand": row["order_up_to"] + 100}
    out = api.client.post("/v1/replenishment", json=body, headers=api.read).json()
    assert out["order_now"] is False
    assert out["order_qty"] == 0


def test_service_level_override_reads_the_grid(api: Api, policies: list[dict]) -> None:
    row = policies[2]
    base = {"sku": row["sku"], "channel": row["channel"], "on_hand": 0}
    low = api.client.post("/v1/replenishment", json={**base, "service_level": 0.6}, headers=api.read).json()
    high = api.client.post("/v1/replenishment", json={**base, "service_level": 0.99}, headers=api.read).json()
    assert low["source"] == high["source"] == "grid"
    assert low["reorder_point"] <= high["reorder_point"]
    assert high["service_level"] == 0.99
    longer = api.client.post("/v1/replenishment", json={**base, "lead_time_days": row["lead_time_mean"] * 3},
                             headers=api.read).json()
    assert longer["source"] == "grid_rescaled"
    assert longer["lead_time_demand"]["mean"] > row["expected_demand"]


def test_batch_answers_each_item_and_lists_unknown_ones(api: Api, policies: list[dict]) -> None:
    items = [{"sku": r["sku"], "channel": r["channel"], "on_hand": 1.0} for r in policies]
    items.append({"sku": "UNKNOWN", "channel": "web", "on_hand": 0})
    r = api.client.post("/v1/replenishment", json={"items": items}, headers=api.read)
    assert r.status_code == 200
    out = r.json()
    assert len(out["results"]) == len(policies)
    assert [x["sku"] for x in out["results"]] == [p["sku"] for p in policies]
    assert out["not_found"][0]["sku"] == "UNKNOWN"


def test_unknown_series_is_404_with_closest(api: Api, policies: list[dict]) -> None:
    row = policies[0]
    r = api.client.post("/v1/replenishment", json={"sku": row["sku"] + "X", "channel": row["channel"],
                                                   "on_hand": 0}, headers=api.read)
    assert r.status_code == 404
    assert any(m.startswith(row["sku"]) for m in r.json()["closest"])


@pytest.mark.parametrize(
    ("change", "field"),
    [({"on_hand": -1}, "on_hand"), ({"service_level": 1.5}, "service_level"),
     ({"lead_time_days": 0}, "lead_time_days"), ({"colour": "red"}, "colour")],
)
def test_malformed_bodies_are_422_with_the_field(api: Api, policies: list[dict], change: dict,
                                                   field: str) -> None:
    body = {"sku": policies[0]["sku"], "channel": policies[0]["channel"], "on_hand": 0, **change}
    r = api.client.post("/v1/replenishment", json=body, headers=api.read)
    assert r.status_code == 422
    # Only the single item's own field: nothing about the batch form it was not sent as.
    assert [err["field"] for err in r.json()["errors"]] == [field]
    assert "items" not in r.json()["detail"]


def test_service_level_outside_the_grid_is_400(api: Api, policies: list[dict]) -> None:
    row = policies[0]
    r = api.client.post("/v1/replenishment", json={"sku": row["sku"], "channel": row["channel"], "on_hand": 0,
                                                   "service_level": 0.2}, headers=api.read)
    assert r.status_code == 400
    assert "within the published grid" in r.json()["detail"]
