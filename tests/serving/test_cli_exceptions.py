"""`blendcast exceptions` on demand against a published run and its data folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.readers import write_tables
from features.synthetic import generate_catalogue
from forecasting.persistence import ResultStore
from forecasting.signals.exception_alerts import EXCEPTION_TYPES
from serving.cli import build_app
from tests.serving.api_support import build_run, publish


@pytest.fixture
def setup(tmp_path: Path) -> tuple[dict[str, str], Path, ResultStore]:
    home = tmp_path / "home"
    home.mkdir()
    store = ResultStore(f"sqlite:///{home / 'blendcast.db'}")
    publish(store, build_run(n_skus=20, n_channels=2, seed=4))
    data = tmp_path / "data"
    write_tables(generate_catalogue(20, 2, 240, 4).tables, data, fmt="csv")
    return {"BLENDCAST_HOME": str(home), "BLENDCAST_LOG_LEVEL": "WARNING"}, data, store


def _stored(store: ResultStore) -> int:
    return sum(len(store.list_alerts(type=t)) for t in EXCEPTION_TYPES)


def test_exceptions_are_stored_once_per_run(setup: tuple[dict[str, str], Path, ResultStore]) -> None:
    env, data, store = setup
    inv = pd.read_csv(data / "inventory.csv")
    inv.loc[0, "on_hand"] = 1_000_000  # inject an excess
    inv.to_csv(data / "inventory.csv", index=False)
    runner = CliRunner()
    first = runner.invoke(build_app(), ["exceptions", "--data", str(data)], env=env)
    assert first.exit_code == 0, first.output
    assert "Excess stock" in first.output
    n = _stored(store)
    assert n > 0
    excess = store.list_alerts(type="excess_stock")
    assert (excess["sku"] == str(inv.loc[0, "sku"])).any()
    again = runner.invoke(build_app(), ["exceptions", "--data", str(data)], env=env)
    assert again.exit_code == 0 and "0 new alert(s)" in again.output
    assert _stored(store) == n


@pytest.mark.parametrize(("change", "words"), [
    ("unknown", "did not plan"), ("negative", "on_hand"), ("kind", "--kind"), ("threshold", "EXCESS_COVER"),
])
def test_bad_input_exits_2_and_stores_nothing(setup: tuple[dict[str, str], Path, ResultStore], change: str,
                                              words: str) -> None:
    env, data, store = setup
    args = ["exceptions", "--data", str(data)]
    inv = pd.read_csv(data / "inventory.csv")
    if change == "unknown":
        inv.loc[len(inv)] = {**inv.iloc[0].to_dict(), "sku": "GHOST"}
    elif change == "negative":
        inv.loc[0, "on_hand"] = -5
    elif change == "kind":
        args += ["--kind", "nope"]
    else:
        env = {**env, "BLENDCAST_EXCESS_COVER_DAYS": "0"}
    inv.to_csv(data / "inventory.csv", index=False)
    res = CliRunner().invoke(build_app(), args, env=env)
    assert res.exit_code == 2, res.output
    assert words in res.output or words in str(res.exception)
    assert _stored(store) == 0
