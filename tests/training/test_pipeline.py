"""The weekly job end to end, on the real MLflow SQLite store and the real result stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from features.errors import DataValidationError
from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from training.pipeline import (
    LOCK_NAME,
    STAGES,
    InjectedFailure,
    TrainingLockedError,
    TrainOptions,
    run_training,
)
from training.registry import CHALLENGER, CHAMPION, Registry

FAST = {"model": "seasonal_naive", "folds": 1, "n_paths": 50}
# A worse configuration of the same baseline: a 13-day "season" read from a single past season.
WORSE = {"season_length": 13, "window_seasons": 1}


def _train(settings: Settings, data: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return run_training(settings, TrainOptions(data_dir=data, **{**FAST, **overrides}))  # type: ignore[arg-type]


def _served(settings: Settings) -> tuple[int | None, pd.DataFrame]:
    store = ResultStore.from_settings(settings)
    run = store.latest_run()
    return (run.id if run else None), (store.get_forecasts() if run else pd.DataFrame())


def test_first_run_registers_champion_and_alias_reproduces_published_forecasts(
    settings: Settings, catalogue_dir: Path
) -> None:
    result = _train(settings, catalogue_dir)

    assert result.status == "published"
    registry = Registry(settings.resolved_mlflow_uri)
    assert registry.aliases() == {CHAMPION: result.version, CHALLENGER: result.version}
    store = ResultStore.from_settings(settings)
    run = store.latest_run()
    assert run is not None and run.id == result.run_id and run.model_version == str(result.version)
    published = store.get_forecasts()
    assert set(store.get_policies()["policy"]) <= {"JIT", "SAFETY_STOCK", "SEASONAL_HYBRID"}
    assert len(store.get_segments()) == published[["sku", "channel"]].drop_duplicates().shape[0]

    model = registry.load(CHAMPION)
    keys = published[["sku", "channel"]].drop_duplicates().head(5)
    served = model.predict(keys)
    expected = published.merge(keys, on=["sku", "channel"])
    served = served.assign(date=pd.to_datetime(served["date"])).sort_values(["sku", "channel", "date"])
    expected = expected.sort_values(["sku", "channel", "date"])
    qcols = [c for c in expected.columns if c[:2] == "0."]
    assert len(served) == len(expected) > 0
    pd.testing.assert_frame_equal(
        served[["sku", "channel", "date", "mean", *qcols]].reset_index(drop=True),
        expected[["sku", "channel", "date", "mean", *qcols]].reset_index(drop=True),
        check_dtype=False, rtol=1e-6,
    )
    assert {"backtest_wspl", "backtest_coverage_95"} <= set(result.metrics)


def test_unchanged_data_publishes_nothing_new(settings: Settings, catalogue_dir: Path) -> None:
    first = _train(settings, catalogue_dir)
    second = _train(settings, catalogue_dir)

    assert second.status == "unchanged"
    assert _served(settings)[0] == first.run_id
    assert len(Registry(settings.resolved_mlflow_uri).list_versions()) == 1


def test_worse_challenger_is_not_promoted_and_champion_keeps_serving(
    settings: Settings, catalogue_dir: Path
) -> None:
    first = _train(settings, catalogue_dir, tolerance=0.0)
    run_before, forecasts_before = _served(settings)

    second = _train(settings, catalogue_dir, model_params=WORSE, tolerance=0.0)

    assert second.status == "not_promoted"
    assert "worse" in second.reason or "sanity" in second.reason
    registry = Registry(settings.resolved_mlflow_uri)
    assert registry.aliases() == {CHAMPION: first.version, CHALLENGER: second.version}
    run_after, forecasts_after = _served(settings)
    assert run_after == run_before
    pd.testing.assert_frame_equal(forecasts_after, forecasts_before)
    alerts = ResultStore.from_settings(settings).list_alerts(type="model_not_promoted")
    assert len(alerts) == 1


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "load"])
def test_a_crash_in_any_stage_leaves_champion_and_served_run_unchanged(
    settings: Settings, catalogue_dir: Path, stage: str
) -> None:
    first = _train(settings, catalogue_dir)
    registry = Registry(settings.resolved_mlflow_uri)
    aliases_before = registry.aliases()
    run_before, forecasts_before = _served(settings)

    with pytest.raises(InjectedFailure, match=stage):
        _train(settings, catalogue_dir, force=True, fail_at=stage)

    assert registry.aliases() == aliases_before == {CHAMPION: first.version, CHALLENGER: first.version}
    run_after, forecasts_after = _served(settings)
    assert run_after == run_before
    pd.testing.assert_frame_equal(forecasts_after, forecasts_before)
    # The lock was released: the next run goes through.
    assert _train(settings, catalogue_dir, force=True).status == "published"


def test_kill_9_during_publish_leaves_champion_and_served_run_unchanged(
    settings: Settings, catalogue_dir: Path
) -> None:
    first = _train(settings, catalogue_dir)
    registry = Registry(settings.resolved_mlflow_uri)
    run_before, forecasts_before = _served(settings)
    env = {**os.environ, "BLENDCAST_HOME": str(settings.home), "BLENDCAST_N_JOBS": "1"}

    proc = subprocess.run(
        [sys.executable, "-m", "serving.cli.__main__", "train", "--data", str(catalogue_dir), "--model",
         "seasonal_naive", "--folds", "1", "--force", "--fail-at", "publish:kill"],
        env=env, capture_output=True, text=True, timeout=300,
    )

    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert registry.aliases() == {CHAMPION: first.version, CHALLENGER: first.version}
    run_after, forecasts_after = _served(settings)
    assert run_after == run_before
    pd.testing.assert_frame_equal(forecasts_after, forecasts_before)


def test_a_second_training_waits_for_the_lock(settings: Settings, catalogue_dir: Path) -> None:
    store = ResultStore.from_settings(settings)
    assert store.acquire_lock(LOCK_NAME, "someone-else")

    with pytest.raises(TrainingLockedError, match="lock"):
        _train(settings, catalogue_dir)

    assert store.latest_run() is None


def test_bad_data_fails_before_anything_is_written(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sales.csv").write_text("date,sku,channel,units\n2024-01-01,A,web,-3\n")

    with pytest.raises(DataValidationError, match="units"):
        _train(settings, bad)

    assert not (settings.home / "blendcast.db").exists()
    assert not (settings.home / "mlflow.db").exists()


@pytest.mark.postgres
def test_pipeline_publishes_to_the_postgresql_result_store(
    tmp_path: Path, catalogue_dir: Path, postgres_url: str
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=postgres_url, n_jobs=1)

    result = _train(settings, catalogue_dir)

    store = ResultStore(postgres_url)
    run = store.latest_run()
    assert result.status == "published" and run is not None and run.id == result.run_id
    assert len(store.get_forecasts()) == 24 * 28
    store.dispose()


def test_dask_local_cluster_run_matches_the_local_engine(tmp_path: Path, catalogue_dir: Path) -> None:
    local = _train(Settings(home=tmp_path / "local", n_jobs=1), catalogue_dir, model="lightgbm",
                   model_params={"n_estimators": 30})
    on_dask = _train(Settings(home=tmp_path / "dask", n_jobs=1), catalogue_dir, model="lightgbm",
                     model_params={"n_estimators": 30}, engine="dask", dask_workers=2)

    assert local.status == on_dask.status == "published"
    # Data-parallel LightGBM bins and bags per worker, so trees differ a little: the stated tolerance
    # is 10% relative on the backtest WSPL and on the total forecast demand.
    wspl_local, wspl_dask = local.metrics["backtest_wspl"], on_dask.metrics["backtest_wspl"]
    assert abs(wspl_dask - wspl_local) <= 0.10 * wspl_local
    total_local = _served(Settings(home=tmp_path / "local"))[1]["mean"].sum()
    total_dask = _served(Settings(home=tmp_path / "dask"))[1]["mean"].sum()
    assert abs(total_dask - total_local) <= 0.10 * total_local


def test_a_later_run_scores_earlier_plans_and_reports_target_vs_realized_per_class(
    settings: Settings, catalogue_dir: Path, tmp_path: Path
) -> None:
    import shutil

    earlier = tmp_path / "earlier"
    shutil.copytree(catalogue_dir, earlier)
    sales = pd.read_parquet(earlier / "sales.parquet")
    sales[sales["date"] <= sales["date"].max() - pd.Timedelta(days=70)].to_parquet(earlier / "sales.parquet")
    assert _train(settings, earlier).status == "published"
    later = _train(settings, catalogue_dir)
    assert later.status == "published"
    # The first run's plans are 70 days old: their lead-time demand is scored on what followed.
    targets = {k: v for k, v in later.metrics.items() if k.startswith("ltd_target_")}
    assert targets and all(0.5 < v < 1 for v in targets.values())
    for name in targets:
        klass = name.removeprefix("ltd_target_")
        assert 0.0 <= later.metrics[f"ltd_realized_{klass}"] <= 1.0 and later.metrics[f"ltd_n_{klass}"] >= 1
    import mlflow

    from training.registry import EXPERIMENT

    client = mlflow.MlflowClient(settings.resolved_mlflow_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    newest = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])[0]
    assert set(targets) <= set(newest.data.metrics)
    policies = ResultStore.from_settings(settings).get_policies()
    assert "planned_level" in policies and policies["planned_level"].between(0.5, 1.0).all()
