"""``blendcast signals`` and ``blendcast alerts`` end to end on a small synthetic catalogue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.readers import write_tables
from features.synthetic.generator import generate_catalogue
from forecasting.persistence import ResultStore
from serving.cli import build_app
from serving.cli.alerts import parse_since


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue")
    write_tables(generate_catalogue(60, 2, 760, 11).tables, out, fmt="parquet")
    return out


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"BLENDCAST_HOME": str(tmp_path / "home"), "BLENDCAST_LOG_LEVEL": "WARNING"}


def _store(env: dict[str, str]) -> ResultStore:
    return ResultStore(f"sqlite:///{Path(env['BLENDCAST_HOME']) / 'blendcast.db'}")


def test_signals_stores_alerts_once_and_alerts_lists_them(data_dir, env):
    runner = CliRunner()
    first = runner.invoke(build_app(), ["signals", "--data", str(data_dir), "--as-of", "2024-10-01"], env=env)
    assert first.exit_code == 0, first.output
    stored = _store(env).list_alerts()
    assert len(stored) > 0
    assert set(stored["type"]) <= {"spike", "volatility_shift", "segment_change", "supplier_slippage"}
    assert f"{len(stored)} new alert(s) stored" in first.output
    # The same signals again are the same alerts: nothing new is stored.
    again = runner.invoke(build_app(), ["signals", "--data", str(data_dir), "--as-of", "2024-10-01"], env=env)
    assert again.exit_code == 0, again.output
    assert "0 new alert(s) stored" in again.output
    assert len(_store(env).list_alerts()) == len(stored)

    kind = stored["type"].iloc[0]
    listed = runner.invoke(build_app(), ["alerts", "--type", kind, "--since", "1d", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines() if line.strip()]
    assert len(rows) == int((stored["type"] == kind).sum())
    assert {r["type"] for r in rows} == {kind}


def test_alerts_table_and_future_since_is_empty(data_dir, env):
    runner = CliRunner()
    runner.invoke(build_app(), ["signals", "--data", str(data_dir)], env=env)
    table = runner.invoke(build_app(), ["alerts", "--limit", "5"], env=env)
    assert table.exit_code == 0 and "alert(s)" in table.output
    future = runner.invoke(build_app(), ["alerts", "--since", "2999-01-01", "--json"], env=env)
    assert future.exit_code == 0 and future.output.strip() == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alerts", "--type", "weather"], "--type must be one of"),
        (["alerts", "--since", "last tuesday"], "--since must be a date"),
        (["alerts", "--limit", "0"], "--limit must be >= 1"),
        (["signals", "--data", "/nonexistent/dir"], "does not exist"),
        (["signals", "--data", "DATA", "--horizon", "0"], "--horizon must be a whole number of days"),
        (["signals", "--data", "DATA", "--as-of", "1999-01-01"], "--as-of 1999-01-01 lies outside"),
    ],
)
def test_bad_input_exits_2_and_stores_nothing(data_dir, env, args, message):
    args = [str(data_dir) if a == "DATA" else a for a in args]
    result = CliRunner().invoke(build_app(), args, env=env)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (Path(env["BLENDCAST_HOME"]) / "blendcast.db").exists() or _store(env).list_alerts().empty


def test_signals_without_webhook_secret_refuses_before_storing(data_dir, env):
    env = {**env, "BLENDCAST_WEBHOOK_URLS": '["http://127.0.0.1:9/hook"]'}
    result = CliRunner().invoke(build_app(), ["signals", "--data", str(data_dir)], env=env)
    assert result.exit_code == 2
    assert "BLENDCAST_WEBHOOK_SECRET is empty" in " ".join(result.output.split())
    assert not (Path(env["BLENDCAST_HOME"]) / "blendcast.db").exists()


def test_parse_since_spans_and_dates():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since(None, now) is None


def test_alerts_deliver_retries_due_webhooks_to_a_real_receiver(env):
    from forecasting.signals.alerts import make_alert
    from tests.forecasting.signals.test_alerts import SECRET, Receiver, _free_port

    env = {**env, "BLENDCAST_WEBHOOK_SECRET": SECRET}
    Path(env["BLENDCAST_HOME"]).mkdir(parents=True)
    store = _store(env)
    with Receiver(_free_port()) as receiver:
        ids = store.add_alerts([make_alert("drift", "warning", None, None, {"message": "drift"}, "drift|1")])
        store.enqueue_deliveries(ids, [receiver.url])
        result = CliRunner().invoke(build_app(), ["alerts", "--deliver", "--json"], env=env)
        assert result.exit_code == 0, result.output
        assert len(receiver.accepted) == 1 and receiver.accepted[0]["alert"]["type"] == "drift"
        again = CliRunner().invoke(build_app(), ["alerts", "--deliver"], env=env)
        assert again.exit_code == 0 and len(receiver.requests) == 1
    assert store.list_alerts()["delivered_at"].notna().all()


def test_signals_reads_the_served_run_for_forecast_peaks_and_segment_changes(data_dir, env):
    import pandas as pd

    from features.readers import load_dataset
    from features.schema import quantile_column
    from forecasting.inventory.segmentation import segment

    data = load_dataset(data_dir)
    sales = data.sales[~data.sales["censored"]]
    top = sales.groupby(["sku", "channel"], observed=True)["units"].mean().sort_values().index[-1]
    level = float(sales[(sales["sku"] == top[0]) & (sales["channel"] == top[1])]["units"].tail(56).mean())
    dates = data.end_date + pd.to_timedelta(range(1, 29), unit="D")
    mean = [level] * 10 + [5 * level] * 8 + [level] * 10
    forecast = pd.DataFrame({"sku": top[0], "channel": top[1], "date": dates, "mean": mean,
                             quantile_column(0.1): [0.5 * m for m in mean], quantile_column(0.5): mean,
                             quantile_column(0.9): [1.5 * m for m in mean]})
    stored = segment(data).assign(as_of=data.end_date - pd.Timedelta(days=7), policy="JIT")
    # Pretend the top series was a C/Z item last week: today it is measured as something else.
    is_top = (stored["sku"] == top[0]) & (stored["channel"] == top[1])
    stored.loc[is_top, ["abc", "xyz", "weekly_cv"]] = ["C", "Z", 3.0]
    Path(env["BLENDCAST_HOME"]).mkdir(parents=True)
    store = _store(env)
    run_id = store.create_run("train", {})
    store.publish_run(run_id, forecasts=forecast, segments=stored, horizon=28, quantiles=(0.1, 0.5, 0.9))

    result = CliRunner().invoke(build_app(), ["signals", "--data", str(data_dir)], env=env)
    assert result.exit_code == 0, result.output
    alerts = store.list_alerts()
    spikes = alerts[(alerts["type"] == "spike") & (alerts["sku"] == top[0]) & (alerts["channel"] == top[1])]
    assert any("forecast" in p["source"] for p in spikes["payload"])
    changes = alerts[(alerts["type"] == "segment_change") & (alerts["sku"] == top[0])]
    assert {p["field"] for p in changes["payload"]} >= {"abc"}
    assert all(p["old"] in ("C", "Z") for p in changes["payload"] if p["field"] in ("abc", "xyz"))
