"""POST /v1/scenarios and `blendcast what-if` on a published run: answers, and 4xx / exit 2 on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasting.persistence import ResultStore
from serving.cli import build_app
from tests.serving.api_support import Api, build_run, make_api, publish


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("scenarios"), build_run(n_skus=10, n_channels=2, seed=4))
    yield served
    served.client.close()


def _plan(store: ResultStore) -> pd.Timestamp:
    return pd.Timestamp(store.get_forecasts()["date"].min()) - pd.Timedelta(days=1)


def _body(api: Api, **kw: object) -> dict:
    plan = _plan(api.store)
    sku = str(api.store.get_policies()["sku"].iloc[0])
    return {"skus": [sku], "start": str((plan + pd.Timedelta(days=10)).date()),
            "end": str((plan + pd.Timedelta(days=16)).date()), "uplift_base": 1.0, "uplift_best": 2.0,
            "n_paths": 1000, **kw}


def test_scenario_answers_per_channel_and_case(api: Api) -> None:
    r = api.client.post("/v1/scenarios", json=_body(api), headers=api.read)
    assert r.status_code == 200, r.text
    body = r.json()
    series = pd.DataFrame(body["series"])
    assert set(series["case"]) == {"base", "best"} and series["channel"].nunique() == 2
    assert (series["window_demand"] >= series["window_demand_without"]).all()
    base = series[series["case"] == "base"]
    best = series[series["case"] == "best"]
    assert (best["stock_needed"].to_numpy() >= base["stock_needed"].to_numpy()).all()
    orders = pd.DataFrame(body["orders"])
    assert set(orders["case"]) == {"base", "best"}
    assert api.client.post("/v1/scenarios", json=_body(api)).status_code == 401


def test_a_promotions_row_is_a_campaign(api: Api) -> None:
    body = _body(api)
    pol = api.store.get_policies()
    promo = {"sku": body["skus"][0], "channel": str(pol["channel"].iloc[0]), "start": body["start"],
             "end": body["end"], "expected_uplift": 1.5}  # a multiplier, as in the promotions table
    r = api.client.post("/v1/scenarios", json={"promotion": promo}, headers=api.read)
    assert r.status_code == 200, r.text
    assert {s["uplift"] for s in r.json()["series"]} == {0.5}
    zero = {"promotion": {**promo, "expected_uplift": 0}}
    bad = api.client.post("/v1/scenarios", json=zero, headers=api.read)
    assert bad.status_code == 422 and "expected_uplift" in bad.text


@pytest.mark.parametrize(("change", "words", "status"), [
    ({"end": "2000-01-01"}, "'end'", 400),
    ({"uplift_base": -1.5}, "uplift_base", 422),
    ({"uplift_base": 500.0}, "uplift_base", 422),
    ({"skus": ["NOPE"]}, "'skus'", 404),
    ({"channels": ["moon"]}, "'channels'", 404),
    ({"start": "2000-01-01", "end": "2000-01-05"}, "past", 400),
    ({"uplift_best": 0.1}, "uplift_best", 400),
    ({"start": None}, "start", 422),
    ({"category": "x"}, "exactly one of 'skus'", 422),
    ({"skus": None}, "'skus'", 422),
    ({"start": "soon"}, "start", 422),
])
def test_bad_campaigns_are_4xx_naming_the_field(api: Api, change: dict, words: str, status: int) -> None:
    before = len(api.store.list_alerts())
    r = api.client.post("/v1/scenarios", json=_body(api, **change), headers=api.read)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert len(api.store.list_alerts()) == before


def test_cli_what_if_prints_writes_and_refuses_bad_input(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = ResultStore(f"sqlite:///{home / 'blendcast.db'}")
    publish(store, build_run(n_skus=10, n_channels=2, seed=4))
    plan = _plan(store)
    sku = str(store.get_policies()["sku"].iloc[0])
    env = {"BLENDCAST_HOME": str(home), "BLENDCAST_LOG_LEVEL": "WARNING"}
    args = ["what-if", "--sku", sku, "--start", str((plan + pd.Timedelta(days=5)).date()),
            "--end", str((plan + pd.Timedelta(days=9)).date()), "--uplift", "2.0", "--n-paths", "500"]
    out = tmp_path / "c.json"
    res = CliRunner().invoke(build_app(), [*args, "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    assert len(json.loads(out.read_text())["series"]) == 4  # 2 channels x 2 cases
    for extra, words in ((["--uplift", "-3"], "uplift_base"), (["--sku", "GHOST"], "skus"),
                         (["--end", "1999-01-01"], "'end'")):
        bad = CliRunner().invoke(build_app(), [*args, *extra], env=env)
        assert bad.exit_code == 2 and words in bad.output, bad.output


def test_cli_what_if_plans_a_promotions_row(tmp_path: Path) -> None:
    from features.readers import write_tables
    from features.synthetic import generate_catalogue

    home = tmp_path / "home"
    home.mkdir()
    store = ResultStore(f"sqlite:///{home / 'blendcast.db'}")
    run = build_run(n_skus=10, n_channels=2, seed=4)
    publish(store, run)
    tables = generate_catalogue(10, 2, 240, 4).tables
    plan = _plan(store)
    row = run.policies.iloc[0]
    tables["promotions"] = pd.DataFrame({"sku": [row["sku"]], "channel": [row["channel"]],
                                         "start": [plan + pd.Timedelta(days=3)],
                                         "end": [plan + pd.Timedelta(days=6)], "expected_uplift": [1.8]})
    write_tables(tables, tmp_path / "data", fmt="csv")
    env = {"BLENDCAST_HOME": str(home), "BLENDCAST_LOG_LEVEL": "WARNING"}
    out = tmp_path / "promo.json"
    res = CliRunner().invoke(build_app(), ["what-if", "--data", str(tmp_path / "data"), "--promotion", "0",
                                           "--n-paths", "500", "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    answer = json.loads(out.read_text())
    assert [s["uplift"] for s in answer["series"]] == pytest.approx([0.8] * len(answer["series"]))
    assert {s["channel"] for s in answer["series"]} == {row["channel"]}
    bad = CliRunner().invoke(build_app(), ["what-if", "--data", str(tmp_path / "data"), "--promotion", "5"],
                             env=env)
    assert bad.exit_code == 2 and "--promotion" in bad.output
    missing = CliRunner().invoke(build_app(), ["what-if", "--sku", str(row["sku"])], env=env)
    assert missing.exit_code == 2 and "--start" in missing.output
