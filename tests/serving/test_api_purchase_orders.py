"""GET /v1/purchase-orders and `blendcast orders` against a real published run (synthetic catalogue)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasting.inventory.purchase_orders import propose_orders
from serving.cli import build_app
from tests.serving.api_support import Api, build_run, make_api, publish


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("orders"), build_run(n_skus=20, n_channels=2, seed=4))
    yield served
    served.client.close()


def _plan_date(api: Api) -> str:
    return str(pd.Timestamp(api.store.get_segments()["as_of"].max()).date())


def test_orders_match_the_policies_and_need_a_read_key(api: Api) -> None:
    assert api.client.get("/v1/purchase-orders").status_code == 401
    r = api.client.get("/v1/purchase-orders", headers=api.read)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = propose_orders(api.store.get_policies(), _plan_date(api))
    assert body["order_date"] == _plan_date(api)
    assert body["n_orders"] == len(expected.orders) > 0
    got_lines = {(o["supplier"], ln["sku"]): ln["order_qty"] for o in body["orders"] for ln in o["lines"]}
    assert got_lines == {(s, k): q for s, k, q in expected.lines[["supplier", "sku", "order_qty"]].itertuples(
        index=False)}
    assert body["total_value"] == pytest.approx(expected.orders["total_value"].sum(), abs=0.01)
    line = body["orders"][0]["lines"][0]
    assert line["reasons"] and "reorder point" in line["reasons"][0]
    assert line["expected_arrival"] >= body["order_date"]


def test_supplier_filter_and_bad_input_name_the_field(api: Api) -> None:
    body = api.client.get("/v1/purchase-orders", headers=api.read).json()
    name = body["orders"][0]["supplier"]
    one = api.client.get("/v1/purchase-orders", params={"supplier": name}, headers=api.read).json()
    assert [o["supplier"] for o in one["orders"]] == [name]
    unknown = api.client.get("/v1/purchase-orders", params={"supplier": "Nobody"}, headers=api.read)
    assert unknown.status_code == 404 and "Nobody" in unknown.json()["detail"]
    past = api.client.get("/v1/purchase-orders", params={"as_of": "2000-01-01"}, headers=api.read)
    assert past.status_code == 409 and "as_of" in past.json()["detail"] and "past" in past.json()["detail"]
    garbage = api.client.get("/v1/purchase-orders", params={"as_of": "soon"}, headers=api.read)
    assert garbage.status_code == 422
    assert "as_of" in garbage.json()["detail"] and "'soon'" in garbage.json()["detail"]


def test_a_run_without_inventory_says_what_to_load(tmp_path: Path) -> None:
    run = build_run(n_skus=6, n_channels=2, seed=2)
    blind = type(run)(run.forecasts, run.policies.assign(stock_known=False), run.segments, run.metrics)
    served = make_api(tmp_path, blind)
    try:
        r = served.client.get("/v1/purchase-orders", headers=served.read)
        assert r.status_code == 409 and "inventory.csv" in r.json()["detail"]
    finally:
        served.client.close()


def test_cli_orders_prints_writes_and_refuses_bad_input(tmp_path: Path) -> None:
    from forecasting.persistence import ResultStore

    home = tmp_path / "home"
    env = {"BLENDCAST_HOME": str(home), "BLENDCAST_LOG_LEVEL": "WARNING"}
    home.mkdir()
    store = ResultStore(f"sqlite:///{home / 'blendcast.db'}")
    run = build_run(n_skus=20, n_channels=2, seed=4)
    publish(store, run)
    runner = CliRunner()
    out_csv, out_json = tmp_path / "po.csv", tmp_path / "po.json"
    res = runner.invoke(build_app(), ["orders", "--out", str(out_csv)], env=env)
    assert res.exit_code == 0, res.output
    assert "Purchase orders due" in res.output
    lines = pd.read_csv(out_csv)
    expected = propose_orders(store.get_policies(), pd.Timestamp(store.get_segments()["as_of"].max()))
    assert len(lines) == len(expected.lines)
    assert (lines["order_qty"].to_numpy() == expected.lines["order_qty"].to_numpy()).all()
    res = runner.invoke(build_app(), ["orders", "--out", str(out_json)], env=env)
    assert res.exit_code == 0 and len(json.loads(out_json.read_text())) == len(expected.orders)
    for args, words in ((["--as-of", "1999-01-01"], "past"), (["--out", str(tmp_path / "x.xlsx")], "--out"),
                        (["--supplier", "Nobody"], "Unknown supplier")):
        bad = runner.invoke(build_app(), ["orders", *args], env=env)
        assert bad.exit_code == 2, bad.output
        assert words in bad.output
    assert not (tmp_path / "x.xlsx").exists()
