"""``blendcast simulate``: engine forecaster, classic sweep, cost; bad input exits 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.readers import write_tables
from features.synthetic import generate_catalogue
from serving.cli import build_app

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue")
    write_tables(generate_catalogue(8, 2, 200, 3).tables, out, fmt="csv")
    return out


@pytest.fixture(scope="module")
def sales_only(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("sales_only")
    (out / "sales.csv").write_bytes((data_dir / "sales.csv").read_bytes())
    return out


def test_simulate_sweeps_the_classic_formula_and_reports_cost(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(build_app(), ["simulate", "--data", str(data_dir), "--days", "60",
                                         "--n-paths", "50", "--forecaster", "seasonal_naive",
                                         "--classic-levels", "0.8,0.95,0.99", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"kpis.json", "kpis.csv", "series_kpis.csv", "frontier.csv",
                                               "class_service.csv", "inventory_vs_fill_rate.png",
                                               "ltd_calibration.csv",
                                               "frontier.png"}
    kpis = pd.read_csv(out / "kpis.csv")
    assert set(kpis["policy"]) == {"ALL_JIT", "ALL_SAFETY_STOCK", "BLENDED", "ALL_SAFETY_STOCK@0.8",
                                   "ALL_SAFETY_STOCK@0.95", "ALL_SAFETY_STOCK@0.99"}
    assert {"segment", "fill_rate", "cycle_service_level", "avg_inventory_value", "stockout_rate",
            "total_cost"} <= set(kpis.columns)
    frontier = pd.read_csv(out / "frontier.csv").set_index("policy")
    assert frontier["total_cost"].notna().all() and frontier["frontier_value"].notna().all()
    assert "seasonal_naive" in result.output


def test_simulate_defaults_to_the_served_model(data_dir: Path) -> None:
    result = runner.invoke(build_app(), ["simulate", "--data", str(data_dir), "--days", "28",
                                         "--n-paths", "50", "--n-jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "BLENDED planned from combination" in result.output


def test_without_prices_cost_is_skipped_or_refused(sales_only: Path, tmp_path: Path) -> None:
    args = ["simulate", "--data", str(sales_only), "--days", "28", "--n-paths", "50",
            "--forecaster", "bootstrap"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "total cost not reported" in result.output
    out = tmp_path / "sim"
    refused = runner.invoke(build_app(), [*args, "--cost", "--out", str(out)])
    assert refused.exit_code == 2 and "--cost" in refused.output and "demo-suppliers" in refused.output
    assert not out.exists()


@pytest.mark.parametrize(("args", "named"), [
    (("--policies", "ALL_JIT,LEAN"), "LEAN"),
    (("--forecaster", "prophet"), "--forecaster 'prophet'"),
    (("--classic-levels", "0.9,1.2"), "--classic-levels"),
    (("--classic-levels", "0.9,high"), "'high'"),
    (("--days", "190"), "'days'"),
])
def test_bad_input_exits_2_and_creates_nothing(data_dir: Path, tmp_path: Path, args: tuple[str, ...],
                                               named: str) -> None:
    out = tmp_path / "sim"
    model = [] if "--forecaster" in args else ["--forecaster", "bootstrap"]
    cmd = ["simulate", "--data", str(data_dir), *args, *model, "--out", str(out)]
    result = runner.invoke(build_app(), cmd)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not out.exists()
