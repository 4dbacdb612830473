"""``blendcast demo-data``: writes a readable catalogue; bad parameters exit 2 and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.synthetic import generate_catalogue
from serving.cli import build_app


def _run(*args: str):
    return CliRunner().invoke(build_app(), ["demo-data", *args])


def test_demo_data_writes_a_catalogue(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = _run("--skus", "12", "--channels", "2", "--days", "60", "--seed", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    sales = pd.read_parquet(out / "sales.parquet")
    assert sales["sku"].nunique() == 12 and set(sales["channel"]) == {"own_shop", "marketplace"}
    assert sales["date"].nunique() == 60
    meta = json.loads((out / "truth" / "meta.json").read_text())
    assert meta["seed"] == 4 and meta["summary"]["sales_rows"] == len(sales)
    assert "simulating sales" in result.output and f"{len(sales):,}" in result.output
    assert (out / "overview.png").stat().st_size > 10_000
    for table in ("skus", "suppliers", "receipts", "events", "promotions", "inventory"):
        assert (out / f"{table}.csv").is_file(), table


def test_demo_data_output_passes_validate(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert _run("--skus", "8", "--days", "90", "--seed", "1", "--no-plot", "--out", str(out)).exit_code == 0
    assert not (out / "overview.png").exists()
    result = CliRunner().invoke(build_app(), ["validate", str(out)])
    if result.exit_code != 0 and "No such command" in result.output:
        pytest.skip("the validate command is not available yet")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--skus", "0"), "'n_skus'"),
        (("--days", "27"), "'n_days'"),
        (("--channels", "0"), "'n_channels'"),
        (("--seed", "-3"), "'seed'"),
    ],
)
def test_bad_parameters_exit_2_and_write_nothing(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "demo"
    result = _run(*args, "--out", str(out))
    assert result.exit_code == 2
    assert message in result.output and "Got" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = _run("--skus", "3", "--days", "30", "--out", str(tmp_path))
    assert result.exit_code == 2 and "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_demo_suppliers_adds_tables_and_refuses_to_overwrite(tmp_path: Path) -> None:
    sales = generate_catalogue(10, 2, 120, 2).tables["sales"][["date", "sku", "channel", "units"]]
    sales.to_csv(tmp_path / "sales.csv", index=False)
    result = CliRunner().invoke(build_app(), ["demo-suppliers", "--data", str(tmp_path), "--seed", "3"])
    assert result.exit_code == 0, result.output
    skus = pd.read_csv(tmp_path / "skus.csv")
    assert set(skus["sku"]) == set(sales["sku"])
    assert {"unit_cost", "unit_price", "moq", "pack_size"} <= set(skus)
    assert len(pd.read_csv(tmp_path / "receipts.csv")) > 0 and "domestic_late" in result.output
    before = (tmp_path / "receipts.csv").read_bytes()
    again = CliRunner().invoke(build_app(), ["demo-suppliers", "--data", str(tmp_path), "--seed", "4"])
    assert again.exit_code == 2 and "--force" in again.output
    assert (tmp_path / "receipts.csv").read_bytes() == before
    forced = CliRunner().invoke(build_app(), ["demo-suppliers", "--data", str(tmp_path), "--seed", "4",
                                              "--force"])
    assert forced.exit_code == 0 and (tmp_path / "receipts.csv").read_bytes() != before
