"""GET /v1/kpis and `blendcast kpis` (the hand-made history of the KPI tests, and a published run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.readers import write_tables
from serving.cli import build_app
from tests.forecasting.inventory.test_operating_kpis import _data
from tests.serving.api_support import Api, build_run, make_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served = make_api(tmp_path_factory.mktemp("kpis"), build_run(n_skus=20, n_channels=2, seed=4))
    yield served
    served.client.close()


def test_api_serves_the_runs_kpis(api: Api) -> None:
    assert api.client.get("/v1/kpis").status_code == 401
    body = api.client.get("/v1/kpis", headers=api.read).json()
    groups = body["groups"]
    assert {g["policy"] for g in groups} >= {"all"}
    assert len({g["quarter_end"] for g in groups}) == 2
    total = [g for g in groups if g["policy"] == "all" and g["abc"] == "all"]
    assert all(t["turnover"] is None or t["turnover"] > 0 for t in total)
    only = api.client.get("/v1/kpis", params={"policy": "all"}, headers=api.read).json()["groups"]
    assert {g["policy"] for g in only} == {"all"}
    bad = api.client.get("/v1/kpis", params={"policy": "magic"}, headers=api.read)
    assert bad.status_code == 422 and "policy" in bad.text


def test_cli_kpis_prints_and_writes_the_hand_figures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_tables({  # the validated tables of the hand-made history
        name: getattr(_data(), name) for name in ("sales", "skus", "receipts", "inventory", "suppliers")
    }, data, fmt="csv")
    env = {"BLENDCAST_HOME": str(tmp_path / "home"), "BLENDCAST_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    out = tmp_path / "kpis.csv"
    res = CliRunner().invoke(build_app(), ["kpis", "--data", str(data), "--quarters", "2", "--out", str(out)],
                             env=env)
    assert res.exit_code == 0, res.output
    assert "Realized KPIs" in res.output and "S2" in res.output
    rows = pd.read_csv(out)
    last = rows[(rows["quarter_end"] == rows["quarter_end"].max()) & (rows["policy"] == "all")]
    assert set(rows["policy"]) == {"all", "unplanned"}  # no run published: nothing was planned
    assert last["units"].iloc[0] == 455 + 860
    for args, words in ((["--quarters", "0"], "--quarters"), (["--out", str(tmp_path / "k.txt")], "--out")):
        bad = CliRunner().invoke(build_app(), ["kpis", "--data", str(data), *args], env=env)
        assert bad.exit_code == 2 and words in bad.output
    bad = CliRunner().invoke(build_app(), ["kpis", "--data", str(data)],
                             env={**env, "BLENDCAST_HOLDING_RATE": "2"})
    assert bad.exit_code == 2 and "HOLDING_RATE" in bad.output


def test_api_filters_by_the_engines_policy_names(api: Api) -> None:
    groups = api.client.get("/v1/kpis", headers=api.read).json()["groups"]
    planned = {g["policy"] for g in groups} - {"all", "unplanned"}
    assert planned and planned <= {"JIT", "SAFETY_STOCK", "SEASONAL_HYBRID"}
    name = sorted(planned)[0]
    only = api.client.get("/v1/kpis", params={"policy": name}, headers=api.read).json()["groups"]
    assert only and {g["policy"] for g in only} == {name}
