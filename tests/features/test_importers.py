"""Importers of the real development data and of small hand-made sources."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.errors import DataValidationError
from features.importers import import_carparts, import_dominicks, import_m5, import_transactions
from features.validation import build_dataset


@pytest.fixture(scope="module")
def m5_tables(m5_tiny_dir: Path) -> dict[str, pd.DataFrame]:
    return import_m5(m5_tiny_dir)


def test_m5_tiny_figures(m5_tables):
    sales = m5_tables["sales"]
    assert len(sales) == 535_640
    assert sales.groupby(["sku", "channel"], observed=True).ngroups == 280
    assert sales["date"].min() == pd.Timestamp("2011-01-29")
    assert sales["date"].max() == pd.Timestamp("2016-04-24")
    assert m5_tables["events"]["date"].max() == pd.Timestamp("2016-06-19")
    assert "skus" not in m5_tables
    dataset = build_dataset(m5_tables)
    assert len(dataset.sales) == 535_640


def test_m5_prices_follow_the_week(m5_tables, m5_tiny_dir):
    prices = pd.read_csv(m5_tiny_dir / "sell_prices.csv.gz")
    calendar = pd.read_csv(m5_tiny_dir / "calendar.csv", parse_dates=["date"])
    row = prices.iloc[100]
    week_days = calendar.loc[calendar["wm_yr_wk"] == row["wm_yr_wk"], "date"]
    sales = m5_tables["sales"]
    mine = sales[
        (sales["sku"] == row["item_id"])
        & (sales["channel"] == row["store_id"])
        & sales["date"].isin(week_days)
    ]
    assert len(mine) > 0
    assert (mine["price"] == row["sell_price"]).all()
    unpriced = sales[sales["price"].isna()]
    assert len(unpriced) > 0, "m5-tiny has late launches"
    assert (unpriced["units"] == 0).all()


def test_m5_snap_events_only_for_the_state_stores(m5_tables, m5_tiny_dir):
    events = m5_tables["events"]
    calendar = pd.read_csv(m5_tiny_dir / "calendar.csv", parse_dates=["date"])
    snap = events[events["event"] == "snap"]
    assert set(snap["channel"]) == {
        "CA_1",
        "CA_2",
        "CA_3",
        "CA_4",
        "TX_1",
        "TX_2",
        "TX_3",
        "WI_1",
        "WI_2",
        "WI_3",
    }
    for state in ("CA", "TX", "WI"):
        expected = set(calendar.loc[calendar[f"snap_{state}"] == 1, "date"])
        for store in snap.loc[snap["channel"].str.startswith(state), "channel"].unique():
            assert set(snap.loc[snap["channel"] == store, "date"]) == expected
    named = events[events["event"] != "snap"]
    assert (named["channel"] == "").all()
    assert {"SuperBowl", "Christmas"} <= set(named["event"])
    assert named["date"].max() > pd.Timestamp("2016-04-24"), "events reach into the future"


def write_m5(src: Path, days: list[int], *, with_columns: bool = True) -> Path:
    src.mkdir()
    ids = ["FOODS_3_001_TX_3_evaluation", "HOBBIES_1_002_CA_1_evaluation"]
    wide = pd.DataFrame({"id": ids})
    if with_columns:
        wide["item_id"] = ["FOODS_3_001", "HOBBIES_1_002"]
        wide["store_id"] = ["TX_3", "CA_1"]
    for d in days:
        wide[f"d_{d}"] = [d, 0]
    with gzip.open(src / "sales_train_evaluation.csv.gz", "wt") as handle:
        wide.to_csv(handle, index=False)
    calendar = pd.DataFrame(
        {
            "date": pd.date_range("2011-01-29", periods=6).strftime("%Y-%m-%d"),
            "wm_yr_wk": [11101] * 6,
            "d": [f"d_{i}" for i in range(1, 7)],
            "event_name_1": [None, "SuperBowl", None, None, None, None],
            "event_name_2": [None] * 6,
            "snap_CA": [1, 0, 0, 0, 0, 1],
            "snap_TX": [0, 1, 0, 0, 0, 0],
        }
    )
    calendar.to_csv(src / "calendar.csv", index=False)
    return src


def test_m5_ids_without_item_and_store_columns(tmp_path):
    tables = import_m5(write_m5(tmp_path / "m5", [1, 2, 3], with_columns=False))
    sales = tables["sales"]
    assert sorted(sales["sku"].unique()) == ["FOODS_3_001", "HOBBIES_1_002"]
    assert sorted(sales["channel"].unique()) == ["CA_1", "TX_3"]
    assert sales.loc[sales["sku"] == "FOODS_3_001", "units"].tolist() == [1, 2, 3]
    assert "price" not in sales.columns, "no sell_prices file, no invented price"
    snap = tables["events"][tables["events"]["event"] == "snap"]
    assert snap.loc[snap["channel"] == "TX_3", "date"].tolist() == [pd.Timestamp("2011-01-30")]
    assert len(snap.loc[snap["channel"] == "CA_1"]) == 2


def test_m5_skipped_day_column(tmp_path):
    with pytest.raises(
        DataValidationError, match=r"column 'd_3': day column\(s\) missing between d_1 and d_4.*d_3"
    ):
        import_m5(write_m5(tmp_path / "m5", [1, 2, 4]))


def test_m5_missing_calendar(tmp_path):
    src = write_m5(tmp_path / "m5", [1, 2])
    (src / "calendar.csv").unlink()
    with pytest.raises(DataValidationError, match=r"Table 'calendar.csv': not found"):
        import_m5(src)


def test_m5_missing_directory(tmp_path):
    with pytest.raises(DataValidationError, match=r"the M5 directory does not exist"):
        import_m5(tmp_path / "absent")


def test_online_retail_descriptions(online_retail_dir):
    sales = import_transactions(online_retail_dir / "online_retail.parquet")["sales"]
    assert sales["channel"].unique().tolist() == ["online"]
    assert sales["sku"].nunique() > 4000, "SKU key is the Description"
    assert (sales["returns"] > 0).any()
    dataset = build_dataset({"sales": sales})
    assert dataset.start_date == pd.Timestamp("2010-12-01")
    assert dataset.end_date == pd.Timestamp("2011-12-09")


def test_online_retail_stock_codes_and_text_dates(online_retail_dir):
    sales = import_transactions(online_retail_dir / "online_retail_subset_240k_allcols.parquet")["sales"]
    assert sales["sku"].nunique() == 3645
    assert sales["date"].min() == pd.Timestamp("2010-12-01")
    assert sales["date"].max() == pd.Timestamp("2011-06-26")
    assert len(build_dataset({"sales": sales}).sales) > len(sales)


@pytest.fixture
def lines_csv(tmp_path: Path) -> Path:
    lines = pd.DataFrame(
        {
            "Invoice Date": [
                "2024-01-01 09:00",
                "2024-01-01 17:30",
                "2024-01-01 18:00",
                "2024-01-02 10:00",
                "2024-01-02 11:00",
            ],
            "SKU": ["A", "A", "A", "A", "B"],
            "Qty": [2, 6, -3, 1, 4],
            "Price": [10.0, 12.0, 12.0, 0.0, 5.0],
            "Store": ["web", "web", "web", "web", "shop"],
        }
    )
    file = tmp_path / "lines.csv"
    lines.to_csv(file, index=False)
    return file


def test_transaction_aggregation(lines_csv):
    sales = import_transactions(lines_csv, channel="Store")["sales"].set_index(["sku", "date"])
    first = sales.loc[("A", pd.Timestamp("2024-01-01"))]
    assert first["units"] == 8
    assert first["returns"] == 3
    assert first["price"] == pytest.approx((2 * 10 + 6 * 12) / 8)
    second = sales.loc[("A", pd.Timestamp("2024-01-02"))]
    assert second["units"] == 1
    assert np.isnan(second["price"]), "a zero price is not a price"
    assert sales.loc[("B", pd.Timestamp("2024-01-02")), "channel"] == "shop"


def test_transaction_explicit_columns_and_default_channel(lines_csv):
    sales = import_transactions(
        lines_csv, timestamp="invoice date", sku="SKU", quantity="Qty", default_channel="b2c"
    )["sales"]
    assert sales["channel"].unique().tolist() == ["b2c"]
    assert sales["units"].sum() == 13


def test_transactions_without_quantity_column(tmp_path):
    file = tmp_path / "lines.csv"
    pd.DataFrame({"InvoiceDate": ["2024-01-01"], "StockCode": ["A"], "Amount": [3]}).to_csv(file, index=False)
    with pytest.raises(
        DataValidationError, match=r"Table 'lines.csv', column 'quantity': no quantity column found"
    ) as err:
        import_transactions(file)
    assert "available: 'InvoiceDate', 'StockCode', 'Amount'" in str(err.value)
    with pytest.raises(
        DataValidationError, match=r"column 'Menge': the quantity column 'Menge' is not in the file"
    ):
        import_transactions(file, quantity="Menge")


def test_transactions_bad_values(tmp_path):
    file = tmp_path / "lines.csv"
    pd.DataFrame({"date": ["2024-01-01", "2024-01-02"], "sku": ["A", "A"], "qty": [1, "lots"]}).to_csv(
        file, index=False
    )
    with pytest.raises(
        DataValidationError, match=r"column 'qty': quantities that are not numbers. 1 row.*row 2 \('lots'\)"
    ):
        import_transactions(file)
    pd.DataFrame({"date": ["2024-01-01", "someday"], "sku": ["A", "A"], "qty": [1, 2]}).to_csv(
        file, index=False
    )
    with pytest.raises(
        DataValidationError, match=r"column 'date': timestamps that cannot be parsed. 1 row.*someday"
    ):
        import_transactions(file)


def test_carparts(carparts_file):
    sales = import_carparts(carparts_file)["sales"]
    assert sales["sku"].nunique() == 2674
    assert sales["date"].min() == pd.Timestamp("1998-01-01")
    assert sales["date"].max() == pd.Timestamp("2002-03-01")
    assert int((sales["in_stock"] == 0).sum()) == 6122
    dataset = build_dataset({"sales": sales}, freq="auto")
    assert len(dataset.sales) == 2674 * 51
    assert int(dataset.sales["censored"].sum()) == 6122


def test_dominicks(dominicks_dir):
    sales = import_dominicks(dominicks_dir)["sales"]
    yx = pd.read_csv(dominicks_dir / "orangeJuice_yx.csv.gz")
    first = yx.iloc[0]
    brand, store, week = int(first["brand"]), int(first["store"]), int(first["week"])
    row = sales[
        (sales["sku"] == str(brand))
        & (sales["channel"] == str(store))
        & (sales["date"] == pd.Timestamp("1989-09-14") + pd.Timedelta(weeks=week - 1))
    ]
    assert row["units"].item() == round(np.exp(first["logmove"]))
    assert row["price"].item() == first[f"price{brand}"]
    assert sales.groupby(["sku", "channel"], observed=True).ngroups == 913
    assert (sales["date"].dt.day_name() == "Thursday").all()
    assert int((sales["in_stock"] == 1).sum()) == len(yx)
    assert (sales.loc[sales["in_stock"] == 0, "units"] == 0).all()
    completed = build_dataset({"sales": sales}, freq="auto").sales
    assert len(completed) == len(sales), "the importer already fills the weekly grid"
