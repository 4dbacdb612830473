"""`blendcast summary` and the overview say what to do today: orders due, exceptions, mix, model, drift."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from forecasting.inventory.exceptions import detect_exceptions
from forecasting.inventory.purchase_orders import propose_orders
from forecasting.persistence import ResultStore
from forecasting.signals.exception_alerts import exception_alerts
from serving.cli import build_app
from serving.workbench.today import today
from tests.serving.api_support import build_run, publish


def _store(home: Path) -> tuple[ResultStore, int]:
    home.mkdir(parents=True)
    store = ResultStore(f"sqlite:///{home / 'blendcast.db'}")
    run = build_run(n_skus=20, n_channels=2, seed=4)
    run_id = publish(store, run)
    store.add_alerts(exception_alerts(detect_exceptions(run.policies, "2024-01-01"), run_id, "2024-01-01"))
    return store, run_id


def test_today_matches_the_orders_and_the_stored_exceptions(tmp_path: Path) -> None:
    store, run_id = _store(tmp_path / "home")
    run = store.get_run(run_id)
    view = today(store, run)
    date = pd.Timestamp(store.get_segments()["as_of"].max())
    expected = propose_orders(store.get_policies(), date)
    assert view.orders is not None and len(view.orders.orders) == len(expected.orders) > 0
    assert sum(o["total_value"] for o in view.per_supplier) == expected.orders["total_value"].sum()
    n_stored = sum(len(store.list_alerts(type=k)) for k in view.exceptions)
    assert sum(view.exceptions.values()) == n_stored > 0
    assert sum(view.policy_mix.values()) == len(store.get_policies())
    assert view.backtest["wspl"] == 0.42


def test_summary_says_it_in_words_with_exact_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, run_id = _store(home)
    env = {"BLENDCAST_HOME": str(home), "BLENDCAST_LOG_LEVEL": "WARNING", "COLUMNS": "250"}
    res = CliRunner().invoke(build_app(), ["summary"], env=env)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    view = today(store, store.get_run(run_id))
    assert view.orders is not None
    n, value = len(view.orders.orders), view.orders.orders["total_value"].sum()
    assert f"Orders: {n} purchase orders due today, total value {value:,.2f}" in text
    assert "Exceptions:" in text and "may run out before the next possible receipt" in text
    assert f"BLENDCAST_HOME={home.resolve()}" in text
    assert f"{Path(sys.executable).parent / 'blendcast'} orders --out orders.csv" in text
    assert "WSPL 0.420" in text
