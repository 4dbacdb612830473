"""The data commands: imports of every real dataset, ``validate``, and exit code 2 on bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from serving.cli import build_app

runner = CliRunner()

GOOD_SALES = "date,sku,channel,units\n2024-01-01,A,web,1\n2024-01-02,A,web,2\n"


def run(*args: object):
    return runner.invoke(build_app(), [str(a) for a in args])


def test_import_and_validate_m5(m5_tiny_dir, tmp_path):
    out = tmp_path / "m5"
    result = run("import", "m5", m5_tiny_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["events.parquet", "sales.parquet"]
    assert "Wrote 2 table(s)" in result.stdout
    result = run("validate", out, "--plot", tmp_path / "health.png")
    assert result.exit_code == 0, result.output
    assert "series (sku x channel)              280" in result.stdout
    assert "sales rows (completed)              535,640" in result.stdout
    assert "2011-01-29 .. 2016-04-24" in result.stdout
    assert (tmp_path / "health.png").stat().st_size > 0


def test_import_and_validate_online_retail_as_csv(online_retail_dir, tmp_path):
    out = tmp_path / "retail"
    source = online_retail_dir / "online_retail_subset_240k_allcols.parquet"
    result = run("import", "transactions", source, "--out", out, "--format", "csv", "--channel", "uk-web")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["sales.csv"]
    result = run("validate", out)
    assert result.exit_code == 0, result.output
    assert "series (sku x channel)              3,645" in result.stdout
    assert "channels                            1\n" in result.stdout


def test_import_and_validate_carparts(carparts_file, tmp_path):
    out = tmp_path / "carparts"
    assert run("import", "carparts", carparts_file, "--out", out).exit_code == 0
    result = run("validate", out)
    assert result.exit_code == 0, result.output
    assert "series (sku x channel)              2,674" in result.stdout
    assert "censored rows (in_stock = 0)        6,122" in result.stdout
    assert "1998-01-01 .. 2002-03-01" in result.stdout


def test_import_and_validate_dominicks(dominicks_dir, tmp_path):
    out = tmp_path / "oj"
    assert run("import", "dominicks", dominicks_dir, "--out", out).exit_code == 0
    result = run("validate", out)
    assert result.exit_code == 0, result.output
    assert "series (sku x channel)              913" in result.stdout
    assert "zero-sales share (uncensored rows)  0.0%" in result.stdout


def test_validate_from_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame(
        {"date": ["2024-01-01", "2024-01-03"], "sku": "A", "channel": "web", "units": [1, 2]}
    ).to_sql("sales", engine, index=False)
    engine.dispose()
    result = run("validate", "--database", url)
    assert result.exit_code == 0, result.output
    assert "sales rows (completed)              3" in result.stdout


def test_validate_needs_exactly_one_source(tmp_path):
    result = run("validate")
    assert result.exit_code == 2
    assert "Give exactly one source" in result.stderr


BAD_TABLES: list[tuple[str, dict[str, str], list[str]]] = [
    ("missing column", {"sales": "date,sku,units\n2024-01-01,A,1\n"}, ["'sales'", "'channel'", "missing"]),
    (
        "wrong type",
        {"sales": GOOD_SALES + "2024-01-03,A,web,abc\n"},
        ["'units'", "not a number", "1 row", "row 3"],
    ),
    ("bad date", {"sales": GOOD_SALES + "2024-13-45,A,web,1\n"}, ["'date'", "not a date", "1 row", "row 3"]),
    (
        "duplicate",
        {"sales": GOOD_SALES + "2024-01-02,A,web,5\n"},
        ["duplicate key", "2 rows", "row 2", "row 3"],
    ),
    ("negative", {"sales": GOOD_SALES + "2024-01-03,A,web,-2\n"}, ["'units'", ">= 0", "1 row", "row 3"]),
    (
        "nan units",
        {"sales": GOOD_SALES + "2024-01-03,A,web,\n"},
        ["'units'", "missing values", "1 row", "row 3"],
    ),
    ("empty file", {"sales": ""}, ["'sales'", "is empty"]),
    ("no rows", {"sales": "date,sku,channel,units\n"}, ["'sales'", "no rows"]),
    (
        "receipt",
        {"sales": GOOD_SALES, "receipts": "supplier,ordered_on,received_on\nS,2024-01-05,2024-01-02\n"},
        ["'receipts'", "'received_on'", "before ordered_on", "1 row", "row 1"],
    ),
    (
        "promotion",
        {"sales": GOOD_SALES, "promotions": "sku,channel,start,end\nA,web,2024-02-10,2024-02-01\n"},
        ["'promotions'", "'end'", "end is before start", "row 1"],
    ),
    (
        "no sales",
        {"skus": "sku,unit_cost,unit_price\nA,1,2\n"},
        ["no sales table in", "sales.csv/sales.parquet"],
    ),
]


@pytest.mark.parametrize(("case", "files", "expected"), BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_validate_bad_data_exits_2(tmp_path, case, files, expected):
    data = tmp_path / "data"
    data.mkdir()
    for table, text in files.items():
        (data / f"{table}.csv").write_text(text)
    plot = tmp_path / "health.png"
    result = run("validate", data, "--plot", plot)
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    for fragment in expected:
        assert fragment in message
    assert "Fix:" in message or "expected" in message
    assert not plot.exists()


def test_validate_missing_directory(tmp_path):
    result = run("validate", tmp_path / "absent")
    assert result.exit_code == 2
    assert "the data directory does not exist" in result.stderr


def write_wide_m5(src: Path, days: list[int], units: int = 1) -> Path:
    src.mkdir()
    columns = {f"d_{d}": [units] for d in days}
    pd.DataFrame({"item_id": ["FOODS_1_001"], "store_id": ["CA_1"], **columns}).to_csv(
        src / "sales_train.csv", index=False
    )
    dates = pd.date_range("2011-01-29", periods=5).strftime("%Y-%m-%d")
    pd.DataFrame({"date": dates, "d": [f"d_{i}" for i in range(1, 6)]}).to_csv(
        src / "calendar.csv", index=False
    )
    return src


@pytest.mark.parametrize(
    ("days", "units", "expected"),
    [
        ([1, 2, 4], 1, ["d_3", "day column(s) missing"]),
        ([1, 2, 3], -1, ["'sales'", "'units'", "units must be >= 0", "3 rows"]),
    ],
    ids=["skipped-day", "negative-units"],
)
def test_import_m5_bad_input_writes_nothing(tmp_path, days, units, expected):
    src = write_wide_m5(tmp_path / "src", days, units)
    out = tmp_path / "out"
    result = run("import", "m5", src, "--out", out)
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    for fragment in expected:
        assert fragment in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_import_m5_missing_directory(tmp_path):
    result = run("import", "m5", tmp_path / "absent", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "out").exists()


def test_import_transactions_without_quantity_writes_nothing(tmp_path):
    source = tmp_path / "lines.csv"
    pd.DataFrame({"InvoiceDate": ["2024-01-01"], "StockCode": ["A"], "Amount": [3]}).to_csv(
        source, index=False
    )
    out = tmp_path / "out"
    result = run("import", "transactions", source, "--out", out)
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "no quantity column found" in message
    assert "'Amount'" in message
    assert not out.exists()
    result = run("import", "transactions", source, "--out", out, "--qty-col", "Amount")
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out / "sales.parquet")["units"].tolist() == [3.0]


def test_import_rejects_unknown_format(tmp_path, m5_tiny_dir):
    result = run("import", "m5", m5_tiny_dir, "--out", tmp_path / "out", "--format", "xlsx")
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_validate_lists_inferred_stockouts_and_the_flags_control_it(tmp_path):
    from tests.features.test_stockouts import _sales

    folder = tmp_path / "data"
    folder.mkdir()
    _sales().to_csv(folder / "sales.csv", index=False)
    result = run("validate", folder)
    assert result.exit_code == 0, result.output
    assert "inferred stockout runs (days)       1 (20)" in result.stdout
    assert "busy/web 2024-04-10 .. 2024-04-29" in result.stdout
    off = run("validate", folder, "--no-infer-stockouts")
    assert off.exit_code == 0 and "off (or in_stock given)" in off.stdout
    strict = run("validate", folder, "--stockout-threshold", "1e-40")
    assert strict.exit_code == 0 and "inferred stockout runs (days)       0 (0)" in strict.stdout
    bad = run("validate", folder, "--stockout-threshold", "1.5")
    assert bad.exit_code == 2
    assert "--stockout-threshold must be a probability in (0, 1)" in " ".join(bad.stderr.split())
