"""The training commands through the CLI: train, models, promote, rollback, schedule, summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.synthetic import generate_catalogue, write_catalogue
from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from serving.cli import build_app

TRAIN = ["train", "--model", "seasonal_naive", "--folds", "1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_train") / "data"
    write_catalogue(generate_catalogue(8, 2, 250, seed=11), out)
    return out


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("BLENDCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BLENDCAST_N_JOBS", "1")
    return CliRunner()


def test_train_then_models_summary_promote_and_rollback(runner: CliRunner, data_dir: Path) -> None:
    app = build_app()
    first = runner.invoke(app, [*TRAIN, "--data", str(data_dir)])
    assert first.exit_code == 0, first.output
    assert "published" in first.output and "backtest_wspl" in first.output
    assert "Drift report" in first.output
    report = ResultStore.from_settings(Settings()).get_drift_report()
    assert report is not None and "<html" in report.html.lower()

    second = runner.invoke(app, [*TRAIN, "--data", str(data_dir), "--force"])
    assert second.exit_code == 0, second.output

    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0
    assert "champion" in listing.output and "challenger" in listing.output

    summary = runner.invoke(app, ["summary"])
    assert summary.exit_code == 0, summary.output
    assert "Policy mix" in summary.output and "mlflow ui --backend-store-uri" in summary.output

    promoted = runner.invoke(app, ["promote", "1"])
    assert promoted.exit_code == 0, promoted.output
    assert "v1 is now the champion" in promoted.output
    rolled = runner.invoke(app, ["rollback"])
    assert rolled.exit_code == 0, rolled.output
    assert "v2 is the champion again" in rolled.output


def test_bad_input_exits_2_with_a_message(runner: CliRunner, tmp_path: Path) -> None:
    app = build_app()
    missing = runner.invoke(app, [*TRAIN, "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    both = runner.invoke(app, [*TRAIN])
    assert both.exit_code == 2 and "--data" in both.output
    unknown = runner.invoke(app, ["promote", "42"])
    assert unknown.exit_code == 2 and "no version 42" in unknown.output
    nothing = runner.invoke(app, ["rollback"])
    assert nothing.exit_code == 2 and "roll back" in nothing.output
    cron = runner.invoke(app, ["schedule", "--cron", "every monday", "--data", str(tmp_path)])
    assert cron.exit_code == 2 and "not valid" in cron.output
    assert not (tmp_path / "home" / "blendcast.db").exists()


def test_schedule_runs_now_and_stops_after_max_runs(runner: CliRunner, data_dir: Path) -> None:
    result = runner.invoke(
        build_app(),
        ["schedule", "--cron", "0 3 * * MON", "--data", str(data_dir), "--model", "seasonal_naive", "--now",
         "--max-runs", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "Training finished: published" in result.output


def test_blendcast_horizon_drives_the_weekly_job(
    runner: CliRunner, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLENDCAST_HORIZON", "14")
    result = runner.invoke(build_app(), [*TRAIN, "--data", str(data_dir)])
    assert result.exit_code == 0, result.output
    store = ResultStore.from_settings(Settings())
    run = store.latest_run()
    assert run is not None and run.horizon == 14
    assert store.get_forecasts(run.id)["date"].nunique() == 14
    explicit = runner.invoke(build_app(), [*TRAIN, "--data", str(data_dir), "--horizon", "7", "--force"])
    assert explicit.exit_code == 0, explicit.output
    assert store.latest_run().horizon == 7  # type: ignore[union-attr]


def test_train_tsb_force_on_a_small_demo_publishes(runner: CliRunner, tmp_path: Path) -> None:
    # The reported crash: spike detection on a small demo with TSB ended in a numpy reduction error.
    small = tmp_path / "small"
    write_catalogue(generate_catalogue(5, 2, 200, seed=1), small)
    app = build_app()
    first = runner.invoke(app, ["train", "--model", "tsb", "--folds", "1", "--data", str(small), "--force"])
    assert first.exit_code == 0, first.output
    assert "published" in first.output
