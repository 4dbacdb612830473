"""Reading data directories and SQL databases, and all-or-nothing writing of canonical tables."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from features.errors import DataValidationError
from features.readers import load_dataset, load_dataset_sql, read_sql_tables, read_tables, write_tables

POSTGRES_URL = os.environ.get(
    "BLENDCAST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def test_missing_directory(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(
        DataValidationError, match=r"Table '.*nowhere': the data directory does not exist.*Fix:"
    ):
        read_tables(missing)


def test_no_sales_table(tmp_path):
    (tmp_path / "skus.csv").write_text("sku,unit_cost,unit_price\nA,1,2\n")
    with pytest.raises(
        DataValidationError, match=r"no sales table in .*; expected sales.csv/sales.parquet"
    ) as err:
        read_tables(tmp_path)
    assert err.value.table == "sales"


def test_empty_file(tmp_path):
    (tmp_path / "sales.csv").write_text("")
    with pytest.raises(DataValidationError, match=r"Table 'sales': the file .*sales.csv is empty.*0 rows"):
        read_tables(tmp_path)


def test_header_only_file_is_an_empty_table(tmp_path):
    (tmp_path / "sales.csv").write_text("date,sku,channel,units\n")
    with pytest.raises(DataValidationError, match=r"Table 'sales': the table is required but has no rows"):
        load_dataset(tmp_path)


def test_two_formats_of_one_table_are_ambiguous(tmp_path, make_sales):
    make_sales().to_csv(tmp_path / "sales.csv", index=False)
    make_sales().to_parquet(tmp_path / "sales.parquet")
    with pytest.raises(
        DataValidationError, match=r"more than one file for the table.*sales.parquet, sales.csv"
    ):
        read_tables(tmp_path)


def test_csv_keeps_codes_as_text(tmp_path):
    (tmp_path / "sales.csv").write_text("date,sku,channel,units\n2024-01-01,007,1,2\n2024-01-02,007,1,0\n")
    dataset = load_dataset(tmp_path)
    assert dataset.sales["sku"].unique().tolist() == ["007"]
    assert dataset.sales["channel"].unique().tolist() == ["1"]


def test_gzipped_csv_and_other_tables(tmp_path, make_sales):
    make_sales(n_days=5).to_csv(tmp_path / "sales.csv.gz", index=False)
    pd.DataFrame({"date": ["2024-02-01"], "event": ["launch"]}).to_csv(tmp_path / "events.csv", index=False)
    dataset = load_dataset(tmp_path)
    assert len(dataset.sales) == 10
    assert dataset.events is not None and dataset.events["date"].max() == pd.Timestamp("2024-02-01")
    assert dataset.skus is None


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_then_load_round_trip(tmp_path, make_sales, fmt):
    sales = make_sales(n_skus=3, n_channels=2, n_days=7)
    written = write_tables({"sales": sales}, tmp_path / "out", fmt=fmt)
    assert [p.name for p in written] == [f"sales.{fmt}"]
    loaded = load_dataset(tmp_path / "out").sales
    expected = sales.sort_values(["sku", "channel", "date"]).reset_index(drop=True)
    # The keys load as categoricals with sorted categories; their values are the written strings.
    for key in ("sku", "channel"):
        assert isinstance(loaded[key].dtype, pd.CategoricalDtype)
        assert loaded[key].cat.categories.is_monotonic_increasing
    loaded = loaded.astype({"sku": object, "channel": object})
    pd.testing.assert_frame_equal(loaded.drop(columns="censored"), expected, check_dtype=False)
    if fmt == "csv":
        assert (tmp_path / "out" / "sales.csv").read_text().splitlines()[1].startswith("2024-01-01,")


def test_write_replaces_a_table_written_in_another_format(tmp_path, make_sales):
    out = tmp_path / "out"
    write_tables({"sales": make_sales()}, out, fmt="csv")
    write_tables({"sales": make_sales(n_skus=1)}, out, fmt="parquet")
    assert sorted(p.name for p in out.iterdir()) == ["sales.parquet"]
    assert len(read_tables(out)["sales"]) == 10


def test_failed_write_leaves_nothing(tmp_path, make_sales):
    unwritable = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [1.0, object()], "unit_price": [2.0, 3.0]})
    with pytest.raises(pa.ArrowInvalid, match=r"(?i)conversion|object"):
        write_tables({"sales": make_sales(), "skus": unwritable}, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_bad_format_and_names(tmp_path, make_sales):
    with pytest.raises(ValueError, match=r"The 'format' must be one of parquet, csv. Got 'xlsx'"):
        write_tables({"sales": make_sales()}, tmp_path / "out", fmt="xlsx")
    with pytest.raises(ValueError, match=r"Unknown table name\(s\) \['orders'\]"):
        write_tables({"orders": make_sales()}, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_sqlite_tables(tmp_path, make_sales):
    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sa.create_engine(url)
    make_sales(n_days=4).to_sql("sales", engine, index=False)
    pd.DataFrame({"date": ["2024-03-01"], "event": ["easter"]}).to_sql("events", engine, index=False)
    pd.DataFrame({"x": [1]}).to_sql("unrelated", engine, index=False)
    engine.dispose()
    assert sorted(read_sql_tables(url)) == ["events", "sales"]
    dataset = load_dataset_sql(url)
    assert len(dataset.sales) == 8
    assert dataset.sales["date"].dtype == "datetime64[ns]"


def test_sqlite_without_sales(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(DataValidationError, match=r"Table 'sales': no sales table in the database"):
        read_sql_tables(url)


def test_malformed_url():
    with pytest.raises(ValueError, match=r"is not a valid SQLAlchemy URL"):
        read_sql_tables("not a url")


@pytest.mark.postgres
def test_postgres_tables(make_sales):
    schema = f"readers_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    try:
        make_sales(n_days=3).to_sql("sales", admin, schema=schema, index=False)
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        dataset = load_dataset_sql(url)
        assert len(dataset.sales) == 6
        assert set(dataset.sales["sku"]) == {"SKU0", "SKU1"}
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_unreadable_parquet(tmp_path):
    Path(tmp_path / "sales.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataValidationError, match=r"Table 'sales': the file .*sales.parquet cannot be read"):
        read_tables(tmp_path)
