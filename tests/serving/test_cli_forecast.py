"""``blendcast forecast`` and ``backtest``: outputs, and exit 2 with nothing written on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.schema import quantile_column
from serving.cli import build_app
from tests.models.conftest import toy_sales

runner = CliRunner()


def run(*args: object):
    return runner.invoke(build_app(), [str(a) for a in args])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Only sales.csv + events.csv, with an all-zero series, a one-day series and stockout days."""
    folder = tmp_path / "data"
    folder.mkdir()
    sales = toy_sales(n_days=90)
    sales["in_stock"] = (~sales.pop("censored")).astype(int)
    sales.to_csv(folder / "sales.csv", index=False)
    end = pd.Timestamp(sales["date"].max())
    pd.DataFrame({"date": [end - pd.Timedelta(days=7), end + pd.Timedelta(days=2)], "event": "sale"}).to_csv(
        folder / "events.csv", index=False
    )
    return folder


def test_forecast_writes_the_canonical_csv(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fc.csv"
    result = run("forecast", "--data", data_dir, "--horizon", 7, "--quantiles", "0.1,0.5,0.9", "--out", out)
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out, dtype={"sku": str, "channel": str})
    assert list(fc.columns) == ["sku", "channel", "date", "mean", "0.1", "0.5", "0.9", "model"]
    assert len(fc) == 7 * 7  # seven series, including the all-zero and the one-day one
    zeros = fc[fc["sku"] == "zeros"]
    assert (zeros[["mean", "0.1", "0.5", "0.9"]].to_numpy() == 0).all()
    assert "1 series have no sales in their history and are forecast as zero" in result.stderr
    one_day = fc[fc["sku"] == "oneday"]
    assert one_day["mean"].between(0.5, 10).all()  # near its single sale of 3, not a crash
    q = fc[["0.1", "0.5", "0.9"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()
    assert fc["model"].str.startswith("combination:").all()


def test_forecast_parquet_with_another_model(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fc.parquet"
    result = run("forecast", "--data", data_dir, "--horizon", 3, "--out", out, "--model", "seasonal_naive")
    assert result.exit_code == 0, result.output
    fc = pd.read_parquet(out)
    assert quantile_column(0.995) in fc and len(fc) == 3 * 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "0"], "The 'horizon' must be a whole number of days >= 1. Got 0."),
        (["--quantiles", "0.5,1.5"], "A quantile must be in (0, 1). Got 1.5."),
        (["--quantiles", "0.5,abc"], "must be numbers in (0, 1)"),
        (["--model", "arima"], "Unknown model(s) ['arima']"),
        (["--out-ext", ".xlsx"], "must end in .csv or .parquet"),
        (["--totals", "7,0"], "--totals must be comma-separated whole numbers of days >= 1"),
        (["--totals", "7,x"], "Got ['x']"),
        (["--totals", "7,35"], "--totals [35] exceed(s) the --horizon of 28 days"),
        (["--totals", "7", "--n-paths", "10"], "--n-paths must be >= 50 for --totals"),
    ],
)
def test_forecast_bad_input_exits_2_and_writes_nothing(
    data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out" / "fc.csv"
    out.parent.mkdir()
    if args[0] == "--out-ext":
        out, args = out.with_suffix(args[1]), []
    result = run("forecast", "--data", data_dir, "--out", out, "--model", "seasonal_naive", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert list(out.parent.iterdir()) == []


def test_forecast_writes_total_quantiles_from_the_paths(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fc.csv"
    result = run("forecast", "--data", data_dir, "--horizon", 14, "--quantiles", "0.5,0.95", "--out", out,
                 "--model", "seasonal_naive", "--totals", "14,7", "--n-paths", 200)
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out, dtype={"sku": str, "channel": str})
    totals = ["total_7_0.5", "total_7_0.95", "total_14_0.5", "total_14_0.95"]
    assert set(totals) <= set(fc.columns)
    per_series = fc.groupby(["sku", "channel"], observed=True)[totals]
    assert (per_series.nunique() == 1).all().all()  # constant over each series' rows
    first = per_series.first()
    # Longer totals are larger, upper quantiles above medians, and the 7-day median near 7 daily medians.
    assert (first["total_14_0.5"] >= first["total_7_0.5"]).all()
    assert (first["total_7_0.95"] >= first["total_7_0.5"]).all()
    daily = fc.groupby(["sku", "channel"]).head(7).groupby(["sku", "channel"])["mean"].sum()
    busy = daily > 20
    ratio = first.loc[busy[busy].index, "total_7_0.5"] / daily[busy]
    assert ratio.between(0.7, 1.3).all()
    zeros = first.loc[[i for i in first.index if i[0] == "zeros"]]
    assert (zeros.to_numpy() == 0).all()


def test_forecast_without_sales_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "events.csv").write_text("date,event\n2024-01-01,sale\n")
    out = tmp_path / "fc.csv"
    result = run("forecast", "--data", empty, "--out", out)
    assert result.exit_code == 2
    assert "sales" in result.stderr
    assert not out.exists()
    missing = run("forecast", "--data", tmp_path / "nope", "--out", out)
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_backtest_prints_a_row_per_model(data_dir: Path) -> None:
    models = "seasonal_naive,tsb"
    result = run("backtest", "--data", data_dir, "--horizon", 7, "--folds", 2, "--models", models)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith(("│ seasonal_naive", "│ tsb"))]
    assert len(lines) == 2
    assert "WSPL" in result.stdout and "cov95" in result.stdout and "tot95@7" in result.stdout
    assert "tsb fold 2/2: fit" in result.stdout  # a progress line per model and fold


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "-1"], "The 'horizon' must be a whole number of days >= 1"),
        (["--folds", "0"], "--folds must be >= 1"),
        (["--models", "seasonal_naive,foo"], "Unknown model(s) ['foo']"),
        (["--folds", "50"], "too short for 50 folds"),
    ],
)
def test_backtest_bad_input_exits_2(data_dir: Path, args: list[str], message: str) -> None:
    result = run("backtest", "--data", data_dir, "--models", "seasonal_naive", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
