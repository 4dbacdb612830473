"""Training commands: ``train``, ``models``, ``promote``, ``rollback``, ``schedule``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from serving.cli.common import EXIT_LOCKED, bad_input_exits, console, fail, setup_logging, store_fault_exits

if TYPE_CHECKING:
    from features.dataset import Dataset
    from forecasting.infrastructure.settings import Settings
    from training.options import TrainOptions
    from training.pipeline import TrainResult

DataOpt = Annotated[Path | None, typer.Option("--data", help="Directory of canonical tables.")]
DatabaseOpt = Annotated[str | None, typer.Option("--database", help="SQLAlchemy URL of the tables.")]


def register(app: typer.Typer) -> None:
    """Add the training commands to ``app``."""
    app.command("train")(train)
    app.command("models")(models)
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("schedule")(schedule)


def _options(
    data: Path | None,
    database: str | None,
    model: str,
    params: str,
    horizon: int,
    folds: int,
    tolerance: float,
    rules: Path | None,
    force: bool,
    engine: str,
    dask_scheduler: str | None,
    dask_workers: int,
    fail_at: str | None,
) -> TrainOptions:
    from training.options import TrainOptions

    try:
        model_params = json.loads(params) if params else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"The '--model-params' must be a JSON object. Got {params!r} ({exc}).") from None
    options = TrainOptions(
        data_dir=data, database_url=database, model=model, model_params=model_params, horizon=horizon,
        folds=folds, tolerance=tolerance, rules_path=rules, force=force, engine=engine,
        dask_scheduler=dask_scheduler, dask_workers=dask_workers, fail_at=fail_at,
    )
    options.check()
    return options


def train(
    data: DataOpt = None,
    database: DatabaseOpt = None,
    model: Annotated[str, typer.Option(help="Forecaster (see models/registry.py).")] = "combination",
    model_params: Annotated[str, typer.Option(help="JSON constructor parameters of the model.")] = "",
    horizon: Annotated[
        int | None, typer.Option(help="Days forecast and published (default: BLENDCAST_HORIZON, 28).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Backtest folds (rolling origins of 28 days).")] = 2,
    tolerance: Annotated[float, typer.Option(help="Relative WSPL a challenger may lose.")] = 0.02,
    rules: Annotated[Path | None, typer.Option(help="Policy rules TOML file.")] = None,
    force: Annotated[bool, typer.Option(help="Publish even if nothing changed.")] = False,
    engine: Annotated[str, typer.Option(help="'local' or 'dask'.")] = "local",
    dask_scheduler: Annotated[str | None, typer.Option(help="tcp://HOST:PORT of a Dask scheduler.")] = None,
    dask_workers: Annotated[int, typer.Option(help="Workers of a local Dask cluster.")] = 2,
    fail_at: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the weekly job once: backtest, fit, plan, register in MLflow, promote if better, publish."""
    from forecasting.infrastructure.settings import get_settings
    from training.pipeline import TrainingLockedError, run_training

    settings = get_settings()
    setup_logging(settings.log_level)
    with bad_input_exits(), store_fault_exits():
        horizon = settings.horizon if horizon is None else horizon
        options = _options(data, database, model, model_params, horizon, folds, tolerance, rules, force,
                           engine, dask_scheduler, dask_workers, fail_at)
        try:
            result = run_training(settings, options, report=lambda line: console.print(line, highlight=False),
                                  after=drift_after_training(settings))
        except TrainingLockedError as exc:
            raise fail(str(exc), code=EXIT_LOCKED) from None
    console.print(f"[bold]{result.status}[/]: run {result.run_id}, model v{result.version}. {result.reason}")
    if result.metrics:
        table = Table("metric", "value", title="Backtest of the candidate")
        for key in ("backtest_wspl", "backtest_mean_spl", "backtest_coverage_50", "backtest_coverage_95",
                    "backtest_coverage_99", "backtest_rmsse", "backtest_bias"):
            if key in result.metrics:
                table.add_row(key, f"{result.metrics[key]:.4f}")
        console.print(table)


def drift_after_training(settings: Settings) -> Callable[[Dataset, TrainResult], None]:
    """The step run after each training: the drift report, saved in the store and logged to MLflow."""

    def after(data: Dataset, result: TrainResult) -> None:
        from forecasting.persistence import ResultStore
        from serving.reports.builder import run_drift
        from training.registry import Registry

        store = ResultStore.from_settings(settings)
        report_id, html = run_drift(data, store)
        console.print(f"Drift report {report_id} saved (served at /reports/drift/latest).")
        if result.version is not None:
            Registry(settings.resolved_mlflow_uri).log_text(result.version, html, "drift/drift_report.html")

    return after


def models() -> None:
    """List the registered model versions with their aliases and backtest metrics."""
    from forecasting.infrastructure.settings import get_settings
    from training.registry import Registry

    registry = Registry(get_settings().resolved_mlflow_uri)
    versions = registry.list_versions()
    if not versions:
        console.print("No model is registered yet. Run 'blendcast train --data DIR'.")
        return
    table = Table("version", "created", "WSPL", "coverage 95", "run")
    table.add_column("aliases", no_wrap=True)
    for v in versions:
        table.add_row(
            str(v.version), f"{v.created_at:%Y-%m-%d %H:%M}",
            f"{v.metrics.get('backtest_wspl', float('nan')):.4f}",
            f"{v.metrics.get('backtest_coverage_95', float('nan')):.3f}", v.run_id[:8],
            ",".join(sorted(v.aliases)) or "-",
        )
    console.print(table)


def promote(version: Annotated[int, typer.Argument(help="Registered version to make champion.")]) -> None:
    """Make VERSION the champion by hand and serve its published run again (one atomic switch)."""
    from forecasting.infrastructure.settings import get_settings
    from training.promotion import PromotionLockedError
    from training.promotion import promote as promote_version
    from training.registry import RegistryError

    with store_fault_exits():
        try:
            info, run_id = promote_version(get_settings(), version)
        except RegistryError as exc:
            raise fail(str(exc)) from None
        except PromotionLockedError as exc:
            raise fail(str(exc), code=EXIT_LOCKED) from None
    console.print(f"Model v{info.version} is now the champion; its run {run_id} is served.")


def rollback() -> None:
    """Give the champion back to the version promoted before the current one and serve its run again."""
    from forecasting.infrastructure.settings import get_settings
    from training.promotion import PromotionLockedError
    from training.promotion import rollback as rollback_version
    from training.registry import RegistryError

    with store_fault_exits():
        try:
            info, run_id = rollback_version(get_settings())
        except RegistryError as exc:
            raise fail(str(exc)) from None
        except PromotionLockedError as exc:
            raise fail(str(exc), code=EXIT_LOCKED) from None
    console.print(f"Rolled back: model v{info.version} is the champion again; its run {run_id} is served.")


def schedule(
    cron: Annotated[str, typer.Option(help="Cron expression (UTC), e.g. '0 3 * * MON'.")] = "0 3 * * MON",
    data: DataOpt = None,
    database: DatabaseOpt = None,
    model: Annotated[str, typer.Option(help="Forecaster name.")] = "combination",
    max_runs: Annotated[int, typer.Option(help="Stop after this many runs (0 = forever).")] = 0,
    now: Annotated[bool, typer.Option("--now", help="Also run once right away.")] = False,
) -> None:
    """Run the weekly job on a cron schedule in this long-lived process (the store lock still applies)."""
    from croniter import croniter

    from forecasting.infrastructure.settings import get_settings
    from training.pipeline import TrainingLockedError, run_training

    settings = get_settings()
    setup_logging(settings.log_level)
    if not croniter.is_valid(cron):
        raise fail(f"The '--cron' expression is not valid: {cron!r}. Example: '0 3 * * MON'.")
    with bad_input_exits():
        options = _options(data, database, model, "", settings.horizon, 2, 0.02, None, False, "local",
                           None, 2, None)
    def run_once() -> None:
        try:
            result = run_training(settings, options, report=lambda line: console.print(line, highlight=False),
                                  after=drift_after_training(settings))
            console.print(f"Training finished: {result.status} (run {result.run_id}).")
        except TrainingLockedError as exc:
            console.print(f"Skipped: {exc}")
        except Exception as exc:  # a failed week must not stop the schedule; the champion keeps serving
            console.print(f"[red]Training failed:[/] {type(exc).__name__}: {exc}")

    runs = 0
    if now:
        run_once()
        runs += 1
    schedule_iter = croniter(cron, datetime.now(UTC))
    while max_runs == 0 or runs < max_runs:
        next_at = schedule_iter.get_next(datetime)
        console.print(f"Next training at {next_at:%Y-%m-%d %H:%M} UTC.")
        time.sleep(max(0.0, (next_at - datetime.now(UTC)).total_seconds()))
        run_once()
        runs += 1
