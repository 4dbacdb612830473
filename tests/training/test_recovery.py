"""After a crash or a store fault: doctor, unlock, a lost MLflow registry, read-only and vanished stores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from serving.cli import build_app
from serving.cli.common import store_fault_message
from training.pipeline import LOCK_NAME, TrainOptions, run_training
from training.registry import CHAMPION, Registry

FAST = {"model": "seasonal_naive", "folds": 1, "n_paths": 50}


def _train(settings: Settings, data: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return run_training(settings, TrainOptions(data_dir=data, **{**FAST, **overrides}))  # type: ignore[arg-type]


def _dead_holder() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:crashed"


@pytest.fixture
def cli_home(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("BLENDCAST_HOME", str(settings.home))
    monkeypatch.setenv("BLENDCAST_N_JOBS", "1")
    monkeypatch.delenv("BLENDCAST_DATABASE_URL", raising=False)
    return settings


def test_doctor_reports_then_repairs_a_crashed_training(cli_home: Settings, catalogue_dir: Path) -> None:
    first = _train(cli_home, catalogue_dir)
    extra = _train(cli_home, catalogue_dir, force=True)
    assert extra.status == "published" and extra.version == 2
    store = ResultStore.from_settings(cli_home)
    registry = Registry(cli_home.resolved_mlflow_uri)
    # What a kill -9 inside a promote leaves: a dead holder's lock, a 'running' run and the champion
    # alias on another version than the one the store serves.
    registry.set_aliases({CHAMPION: first.version})
    stuck = store.create_run("weekly", {}, "h")
    assert store.acquire_lock(LOCK_NAME, _dead_holder())
    app = build_app()

    report = CliRunner().invoke(app, ["doctor"])
    assert report.exit_code == 5, report.output
    text = " ".join(report.output.split())
    assert "(process dead)" in text and f"Run(s) {stuck}" in text
    assert f"The champion alias names v{first.version}, but the store serves run {extra.run_id}" in text
    assert registry.aliases()[CHAMPION] == first.version  # a report changes nothing

    fixed = CliRunner().invoke(app, ["doctor", "--fix"])
    assert fixed.exit_code == 0, fixed.output
    assert registry.aliases()[CHAMPION] == extra.version
    assert store.lock_info(LOCK_NAME) is None and store.get_run(stuck).status == "failed"
    healthy = CliRunner().invoke(app, ["doctor"])
    assert healthy.exit_code == 0 and "Healthy" in healthy.output


def test_unlock_needs_force_for_a_live_holder(cli_home: Settings) -> None:
    store = ResultStore.from_settings(cli_home)
    app = build_app()
    assert CliRunner().invoke(app, ["unlock"]).exit_code == 0  # free: nothing to do
    assert store.acquire_lock(LOCK_NAME, "another-host:77:live")  # fresh heartbeat, cannot be checked
    refused = CliRunner().invoke(app, ["unlock"])
    assert refused.exit_code == 3 and "--force" in refused.output
    assert store.lock_info(LOCK_NAME) is not None
    forced = CliRunner().invoke(app, ["unlock", "--force"])
    assert forced.exit_code == 0 and store.lock_info(LOCK_NAME) is None
    assert store.acquire_lock(LOCK_NAME, _dead_holder())
    assert CliRunner().invoke(app, ["unlock"]).exit_code == 0  # dead on this host: no --force needed
    assert store.lock_info(LOCK_NAME) is None


def test_a_lost_mlflow_database_is_refused_not_restarted_at_v1(
    cli_home: Settings, catalogue_dir: Path
) -> None:
    first = _train(cli_home, catalogue_dir)
    assert first.version == 1
    Path(cli_home.home / "mlflow.db").unlink()
    store = ResultStore.from_settings(cli_home)
    served_before = store.latest_run()
    # Fresh processes, as in production: this one's MLflow client still holds the deleted file open.
    env = {**os.environ, "BLENDCAST_HOME": str(cli_home.home), "BLENDCAST_N_JOBS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("BLENDCAST_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "serving.cli", *args], env=env, capture_output=True,
                              text=True, timeout=300, cwd=cli_home.home)

    train = [*("train", "--data", str(catalogue_dir), "--model", "seasonal_naive", "--folds", "1", "--force")]
    refused = cli(*train)
    assert refused.returncode == 4, refused.stderr[-3000:]
    text = " ".join(refused.stderr.split())
    assert "does not hold" in text and "restore the MLflow database" in text and "Traceback" not in text
    assert store.latest_run() == served_before
    assert cli("doctor").returncode == 5
    assert cli("doctor", "--fix").returncode == 0
    again = cli(*train)
    assert again.returncode == 0, again.stderr[-3000:]
    uris = [r.model_uri for r in store.list_runs() if r.status == "published"]
    assert uris.count("models:/blendcast-demand/1") == 1, uris
    assert "lost-registry:models:/blendcast-demand/1" in uris


def test_a_read_only_store_is_one_paragraph_and_exit_4(cli_home: Settings, catalogue_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _train(cli_home, catalogue_dir)
    db = cli_home.home / "blendcast.db"
    monkeypatch.setenv("BLENDCAST_DATABASE_URL", f"sqlite:///file:{db}?mode=ro&uri=true")
    result = CliRunner().invoke(build_app(), ["train", "--data", str(catalogue_dir), "--model",
                                              "seasonal_naive", "--folds", "1", "--force"])
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert "is read-only" in text and "Fix: make the database file" in text and "Traceback" not in text


def test_mlflow_database_deleted_mid_run_is_named_and_changes_nothing(
    settings: Settings, catalogue_dir: Path
) -> None:
    first = _train(settings, catalogue_dir)
    mlflow_db = settings.home / "mlflow.db"

    def report(line: str) -> None:
        if line.startswith("[5/7] register ..."):
            mlflow_db.unlink()

    with pytest.raises(Exception) as err:  # whatever MLflow raises, it must be named
        run_training(settings, TrainOptions(data_dir=catalogue_dir, force=True, **FAST), report=report)  # type: ignore[arg-type]
    message = store_fault_message(err.value)
    assert message is not None and message.startswith("The MLflow tracking store")
    assert "Fix:" in message
    store = ResultStore.from_settings(settings)
    served = store.latest_run()
    assert served is not None and served.id == first.run_id
    assert store.list_runs()[0].status == "failed"


def test_a_training_that_loses_its_lock_stops_before_publishing(
    settings: Settings, catalogue_dir: Path
) -> None:
    from training.pipeline import LockLostError

    first = _train(settings, catalogue_dir)
    store = ResultStore.from_settings(settings)
    beats: list[float] = []

    def report(line: str) -> None:
        info = store.lock_info(LOCK_NAME)
        if info is not None:
            beats.append(info.heartbeat.timestamp())
        if line.startswith("[3/7] fit ..."):
            store.break_lock(LOCK_NAME)  # an operator's 'unlock --force' while it runs

    with pytest.raises(LockLostError, match="lost the store lock"):
        run_training(settings, TrainOptions(data_dir=catalogue_dir, force=True, **FAST), report=report)  # type: ignore[arg-type]
    assert beats == sorted(beats) and len(set(beats)) >= 2, "each stage refreshes the heartbeat"
    served = store.latest_run()
    assert served is not None and served.id == first.run_id
    assert Registry(settings.resolved_mlflow_uri).aliases()[CHAMPION] == first.version
    assert store.list_runs()[0].status == "failed"


@pytest.mark.parametrize("args", [["api-key", "create", "--scope", "read"], ["unlock", "--force"]])
def test_other_commands_on_a_read_only_store_exit_4_without_a_traceback(
    cli_home: Settings, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    store = ResultStore.from_settings(cli_home)
    store.upgrade()
    assert store.acquire_lock(LOCK_NAME, "another-host:1:x")
    store.dispose()
    db = cli_home.home / "blendcast.db"
    monkeypatch.setenv("BLENDCAST_DATABASE_URL", f"sqlite:///file:{db}?mode=ro&uri=true")
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 4, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "read-only" in " ".join(result.output.split())


def test_a_champion_alias_without_any_served_run_is_removed(
    settings: Settings, catalogue_dir: Path
) -> None:
    from training.reconcile import reconcile

    first = _train(settings, catalogue_dir)
    # As if the very first publish was killed after the alias move: a fresh store serves nothing.
    other = ResultStore(f"sqlite:///{settings.home / 'empty.db'}")
    registry = Registry(settings.resolved_mlflow_uri)
    assert registry.aliases()[CHAMPION] == first.version
    found = reconcile(other, registry, fix=False)
    assert len(found) == 1 and not found[0].fixed and "serves no registered model" in found[0].problem
    assert CHAMPION in registry.aliases()
    fixed = reconcile(other, registry, fix=True)
    assert fixed[0].fixed and CHAMPION not in registry.aliases()
