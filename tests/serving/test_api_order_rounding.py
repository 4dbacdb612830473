"""The API's order advice rounds like the published policy: MOQ and pack size come from the store.

Runs the real weekly job (fast baseline, one fold) on a catalogue where one SKU orders in packs of 12
with an MOQ of 36 and has an empty shelf, then asks ``POST /v1/replenishment`` about the same stock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from features.synthetic import generate_catalogue, write_catalogue
from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from tests.serving.api_support import Api, settings_for
from training.pipeline import TrainOptions, run_training

SKU = "SKU00001"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from serving.api import create_app

    root = tmp_path_factory.mktemp("rounding")
    catalogue = generate_catalogue(6, 2, 240, seed=5)
    skus = catalogue.tables["skus"]
    skus.loc[skus["sku"] == SKU, ["moq", "pack_size"]] = [36.0, 12.0]
    inventory = catalogue.tables["inventory"]
    inventory.loc[inventory["sku"] == SKU, ["on_hand", "on_order"]] = [0.0, 0.0]
    write_catalogue(catalogue, root / "data")
    settings: Settings = settings_for(root / "home", n_jobs=1)
    result = run_training(settings, TrainOptions(data_dir=root / "data", model="seasonal_naive", folds=1,
                                                 n_paths=50))
    assert result.status == "published"
    store = ResultStore.from_settings(settings)
    _, read = store.create_api_key("read", "tests")
    client = TestClient(create_app(settings))
    client.__enter__()
    yield Api(client, store, {"X-API-Key": read}, {})
    client.close()
    store.dispose()


def test_api_order_is_whole_packs_above_the_moq_and_equals_the_published_advice(trained: Api) -> None:
    policies = trained.store.get_policies()
    rows = policies[(policies["sku"] == SKU) & (policies["order_qty"] > 0)]
    assert len(rows) >= 1, "the empty shelf should make the published policy order"
    for row in rows.to_dict("records"):
        assert (row["moq"], row["pack_size"]) == (36.0, 12.0)
        body = {"sku": SKU, "channel": row["channel"], "on_hand": row["on_hand"], "on_order": row["on_order"],
                "backorders": row["backorders"]}
        out = trained.client.post("/v1/replenishment", json=body, headers=trained.read).json()
        assert (out["moq"], out["pack_size"]) == (36.0, 12.0)
        assert out["order_qty"] >= 36 and out["order_qty"] % 12 == 0
        assert out["order_now"] is True
        assert out["order_qty"] == pytest.approx(row["order_qty"])


def test_a_small_shortfall_still_orders_the_moq(trained: Api) -> None:
    row = trained.store.get_policies().query("sku == @SKU").iloc[0]
    # Just below the reorder point: S - IP is a few units, the MOQ lifts it to 36.
    body = {"sku": SKU, "channel": row["channel"], "on_hand": max(row["order_up_to"] - 1.0, 0.0)}
    out = trained.client.post("/v1/replenishment", json=body, headers=trained.read).json()
    assert out["order_now"] is True
    assert out["order_qty"] == 36.0
