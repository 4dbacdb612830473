"""Forecast commands: ``backtest`` (compare models on past windows) and ``forecast`` (write a forecast).

Both are stateless: they read a data directory (only ``sales`` is required; ``sales.csv`` +
``events.csv`` is enough), fit in memory and print or write the result. Bad input exits with code 2
before anything is written.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from features.schema import M5_QUANTILES, parse_quantiles, quantile_column
from models.registry import MODEL_NAMES, MODELS
from serving.cli.common import (
    INFER_STOCKOUTS_HELP,
    STOCKOUT_THRESHOLD_HELP,
    atomic_file,
    bad_input_exits,
    check_out_file,
    console,
    err_console,
    setup_logging,
    stockout_inference,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from features.dataset import Dataset
    from features.stockouts import StockoutInference
    from models.base import SamplePaths

log = logging.getLogger(__name__)

OUTPUT_FORMATS = (".csv", ".parquet")
DEFAULT_QUANTILES_TEXT = ",".join(map(str, M5_QUANTILES))
DEFAULT_BACKTEST_MODELS = ("seasonal_naive", "lightgbm", "ets", "tsb", "combination")


def _load(data_dir: Path, stockouts: StockoutInference | None = None) -> Dataset:
    from features.readers import load_dataset

    if not data_dir.exists():
        raise FileNotFoundError(
            f"The data directory '{data_dir}' does not exist. Pass --data with a folder holding sales.csv "
            "(or sales.parquet)."
        )
    if not data_dir.is_dir():
        raise NotADirectoryError(f"--data must be a directory holding sales.csv. Got the file '{data_dir}'.")
    return load_dataset(data_dir, stockouts=stockouts)


def _model_names(models: str) -> list[str]:
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise ValueError(
            f"Unknown model(s) {unknown or [models]} in --models. Valid: {', '.join(sorted(MODELS))}."
        )
    return names


def _model_params(name: str, n_jobs: int, seed: int) -> dict[str, int]:
    valid = MODELS[name]().get_params(deep=False)
    return {k: v for k, v in (("n_jobs", n_jobs), ("random_state", seed)) if k in valid}


def _warn_zero_series(data: Dataset) -> None:
    import pandas as pd

    sold = data.sales.loc[~data.sales["censored"].astype(bool)] if "censored" in data.sales else data.sales
    totals = sold.groupby(["sku", "channel"], observed=True)["units"].sum()
    zero = totals.reindex(pd.MultiIndex.from_frame(data.series()), fill_value=0.0) <= 0
    if zero.any():
        examples = ", ".join(f"{s}/{c}" for s, c in zero[zero].index[:5])
        err_console.print(
            f"[yellow]warning:[/] {int(zero.sum())} series have no sales in their history and are "
            f"forecast as zero (e.g. {examples}).",
            highlight=False,
        )


def _write_atomic(frame: pd.DataFrame, out: Path, suffix: str) -> None:
    with atomic_file(out) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            frame.to_parquet(tmp, index=False)


def forecast_command(
    data: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv or .parquet."),
    horizon: int = typer.Option(28, "--horizon", help="Days to forecast, >= 1."),
    quantiles: str = typer.Option(
        DEFAULT_QUANTILES_TEXT, "--quantiles", help="Comma-separated levels in (0, 1)."
    ),
    model: str = typer.Option("combination", "--model", help=f"One of: {', '.join(MODEL_NAMES)}."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Workers handed to the model (2 cores here)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    totals: str = typer.Option(
        "", "--totals",
        help="Comma-separated lead times L in days (e.g. 7,14,28): add total_<L>_<q> columns, the "
             "quantiles of each series' L-day total demand read from the sample paths (constant over "
             "the series' rows).",
    ),
    n_paths: int = typer.Option(500, "--n-paths", help="Sample paths per series for --totals, >= 50."),
    infer_stockouts: bool | None = typer.Option(
        None, "--infer-stockouts/--no-infer-stockouts", help=INFER_STOCKOUTS_HELP
    ),
    stockout_threshold: float | None = typer.Option(
        None, "--stockout-threshold", help=STOCKOUT_THRESHOLD_HELP
    ),
) -> None:
    """Fit on all history and write the forecast (one row per sku, channel, date)."""
    from models.base import MAX_HORIZON_DAYS, check_horizon
    from models.registry import make_model

    setup_logging("WARNING")
    with bad_input_exits():
        horizon = check_horizon(horizon, MAX_HORIZON_DAYS)
        qs = parse_quantiles(quantiles)
        lead_times = parse_totals(totals, horizon)
        if lead_times and n_paths < 50:
            raise ValueError(f"--n-paths must be >= 50 for --totals (their quantiles come from the paths). "
                             f"Got {n_paths}.")
        suffix = check_out_file(out, OUTPUT_FORMATS, ".csv or .parquet", "forecast.csv")
        name = _model_names(model)[0]
        if n_jobs < 1:
            raise ValueError(f"--n-jobs must be >= 1. Got {n_jobs}.")
        dataset = _load(data, stockout_inference(infer_stockouts, stockout_threshold))
        _warn_zero_series(dataset)
        estimator = make_model(name, **_model_params(name, n_jobs, seed))
        with console.status(f"fitting {name} on {len(dataset.series())} series"):
            estimator.fit(dataset)
            frame = estimator.predict(horizon, qs)
        if lead_times:
            with console.status(f"drawing {n_paths} sample paths per series for the totals"):
                paths = estimator.sample_paths(horizon, n_paths=n_paths, random_state=seed)
                frame = with_total_quantiles(frame, paths, lead_times, qs)
        _write_atomic(frame, out, suffix)
    console.print(
        f"wrote {len(frame)} rows ({frame['sku'].nunique()} SKUs, {horizon} days, {len(qs)} quantiles) "
        f"to {out}",
        highlight=False,
    )


def parse_totals(text: str, horizon: int) -> list[int]:
    """The lead times of ``--totals``: whole numbers of days in ``1..horizon``, sorted, unique.

    Raises:
        ValueError: Naming the option, the bad values and the fix.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in parts if not p.isdigit() or int(p) < 1]
    if bad:
        raise ValueError(f"--totals must be comma-separated whole numbers of days >= 1 (e.g. 7,14,28). "
                         f"Got {bad}.")
    days = sorted({int(p) for p in parts})
    too_long = [d for d in days if d > horizon]
    if too_long:
        raise ValueError(f"--totals {too_long} exceed(s) the --horizon of {horizon} days: a total needs "
                         f"every day forecast. Raise --horizon to {max(too_long)} or drop those lead times.")
    return days


def with_total_quantiles(frame: pd.DataFrame, paths: SamplePaths, lead_times: list[int],
                         quantiles: tuple[float, ...]) -> pd.DataFrame:
    """Add ``total_<L>_<q>`` columns: per series, quantile ``q`` of the ``L``-day total of its paths.

    Summing within each path keeps the correlation between days, so these are the distributions a
    reorder point for a fixed lead time of ``L`` days is read from.
    """
    import numpy as np

    keys = paths.keys[["sku", "channel"]].astype(str)
    columns: dict[str, np.ndarray] = {}
    for lt in lead_times:
        values = np.quantile(paths.totals(lt), quantiles, axis=1)
        for q, v in zip(quantiles, values, strict=True):
            columns[f"total_{lt}_{quantile_column(q)}"] = v
    table = keys.assign(**columns)
    out = frame.astype({"sku": str, "channel": str}).merge(table, on=["sku", "channel"], how="left")
    return out


def backtest_command(
    data: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    horizon: int = typer.Option(28, "--horizon", help="Days forecast from each origin, >= 1."),
    folds: int = typer.Option(3, "--folds", help="Rolling origins, >= 1."),
    models: str = typer.Option(",".join(DEFAULT_BACKTEST_MODELS), "--models", help="Comma-separated."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Workers handed to each model."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    infer_stockouts: bool | None = typer.Option(
        None, "--infer-stockouts/--no-infer-stockouts", help=INFER_STOCKOUTS_HELP
    ),
    stockout_threshold: float | None = typer.Option(
        None, "--stockout-threshold", help=STOCKOUT_THRESHOLD_HELP
    ),
) -> None:
    """Backtest models on the same rolling windows and print one row per model."""
    from forecasting.evaluation.backtest import backtest
    from models.base import MAX_HORIZON_DAYS, check_horizon
    from models.registry import make_model

    setup_logging("WARNING")
    with bad_input_exits():
        horizon = check_horizon(horizon, MAX_HORIZON_DAYS)
        if folds < 1:
            raise ValueError(f"--folds must be >= 1. Got {folds}.")
        if n_jobs < 1:
            raise ValueError(f"--n-jobs must be >= 1. Got {n_jobs}.")
        names = _model_names(models)
        dataset = _load(data, stockout_inference(infer_stockouts, stockout_threshold))
        _warn_zero_series(dataset)
        candidates = {n: make_model(n, **_model_params(n, n_jobs, seed)) for n in names}
        t0 = time.perf_counter()
        result = backtest(candidates, dataset, horizon=horizon, folds=folds, random_state=seed)
    # A fixed minimum width: the table has 13 columns and is read whole, not squeezed into 80.
    wide = Console(width=max(console.width, 150))
    wide.print(metrics_table(result.metrics, f"Backtest: {folds} fold(s) x {horizon} days, "
                             f"{len(dataset.series())} series"))
    console.print(f"total wall time {time.perf_counter() - t0:.1f}s", highlight=False)


HEADERS = {
    "wspl": "WSPL", "mean_spl": "mean SPL", "coverage_50": "cov50", "coverage_67": "cov67",
    "coverage_95": "cov95", "coverage_99": "cov99", "rmsse": "RMSSE", "bias": "bias",
}


def metrics_table(metrics: pd.DataFrame, title: str) -> Table:
    """A rich table of backtest metrics, one row per model (``name`` column)."""
    table = Table(title=title)
    total_cols = [str(c) for c in metrics.columns if str(c).startswith("total_coverage_")]
    table.add_column("model", justify="left")
    for col in [*HEADERS, *total_cols]:
        table.add_column(HEADERS.get(col, col.replace("total_coverage_", "tot95@")), justify="right")
    table.add_column("seconds", justify="right")
    for _, row in metrics.iterrows():
        cells = [str(row["name"]), *(_fmt(row[c]) for c in [*HEADERS, *total_cols])]
        cells.append(f"{row['fit_seconds'] + row['predict_seconds']:.1f}")
        table.add_row(*cells)
    return table


def _fmt(value: object) -> str:
    v = float(value)  # type: ignore[arg-type]
    return "-" if math.isnan(v) else f"{v:.3f}"


def register(app: typer.Typer) -> None:
    """Add ``backtest`` and ``forecast`` to ``app``."""
    app.command("backtest")(backtest_command)
    app.command("forecast")(forecast_command)
