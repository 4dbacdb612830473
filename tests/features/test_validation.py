"""Rules of the canonical data contract and the completion of sales."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import DataValidationError
from features.validation import build_dataset, complete_sales, infer_frequency, validate_table


def sales_rows(*rows: tuple[str, str, str, object], **extra: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["date", "sku", "channel", "units"])
    for column, values in extra.items():
        frame[column] = values
    return frame


def test_validate_table_types_columns():
    raw = sales_rows(("2024-01-01 13:45", "A", "web", "3"), ("2024-01-02", 7, "web", 0), in_stock=[1, 0])
    typed = validate_table("sales", raw)
    assert typed["date"].dtype == "datetime64[ns]"
    assert typed["date"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]
    assert typed["sku"].tolist() == ["A", "7"]
    assert typed["units"].dtype == np.float64
    assert typed["in_stock"].tolist() == [1, 0]
    assert raw["units"].tolist() == ["3", 0], "validation must not modify its input"


def test_whole_float_codes_become_integer_text():
    typed = validate_table(
        "skus", pd.DataFrame({"sku": [101.0, 102.0], "unit_cost": [1, 2], "unit_price": [2, 3]})
    )
    assert typed["sku"].tolist() == ["101", "102"]


def test_missing_column_names_table_column_and_fix():
    with pytest.raises(
        DataValidationError, match=r"Table 'sales', column 'units': required column 'units' missing"
    ) as err:
        validate_table("sales", pd.DataFrame({"date": ["2024-01-01"], "sku": ["A"], "channel": ["web"]}))
    assert "found: 'date', 'sku', 'channel'" in str(err.value)
    assert err.value.column == "units"
    assert "Fix:" in str(err.value)


def test_wrong_type_names_rows_and_values():
    raw = sales_rows(
        ("2024-01-01", "A", "web", 1), ("2024-01-02", "A", "web", "abc"), ("2024-01-03", "A", "web", "x")
    )
    with pytest.raises(
        DataValidationError, match=r"column 'units': values that are not a number. 2 rows"
    ) as err:
        validate_table("sales", raw)
    message = str(err.value)
    assert "row 2 (sku='A', channel='web', date='2024-01-02', units='abc')" in message
    assert "row 3" in message
    assert err.value.n_rows == 2


def test_unparseable_date():
    raw = sales_rows(("2024-01-01", "A", "web", 1), ("not a date", "A", "web", 1))
    with pytest.raises(DataValidationError, match=r"column 'date': values that are not a date.*1 row.*row 2"):
        validate_table("sales", raw)


def test_non_iso_dates_parse_with_the_one_format_that_fits_the_whole_column():
    typed = validate_table(
        "sales", sales_rows(("12/1/10 8:26", "A", "web", 1), ("12/13/10 9:00", "A", "web", 1))
    )
    # 12/13/10 cannot be day-first, so the whole column is month-first, the first row too.
    assert typed["date"].tolist() == [pd.Timestamp("2010-12-01"), pd.Timestamp("2010-12-13")]
    typed = validate_table("sales", sales_rows(("31.01.2024", "A", "web", 1), ("01.02.2024", "A", "web", 1)))
    assert typed["date"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-01")]


def test_ambiguous_day_month_dates_are_refused():
    raw = sales_rows(("12/1/10 8:26", "A", "web", 1), ("12/2/10 9:00", "A", "web", 1))
    with pytest.raises(DataValidationError, match=r"'date': ambiguous dates.*2 rows.*row 1.*yyyy-mm-dd"):
        validate_table("sales", raw)


@pytest.mark.parametrize("odd", ["02/01/2024", "03/02/2025", "05-01-2024", "5 Jan 2024"])
def test_a_second_format_in_an_iso_column_is_refused_with_its_rows(odd: str):
    raw = sales_rows(("2024-01-01", "A", "web", 1), (odd, "A", "web", 1), ("2024-01-03", "A", "web", 1))
    with pytest.raises(DataValidationError, match=r"more than one format.*1 row affected.*row 2") as err:
        validate_table("sales", raw)
    assert odd in str(err.value) and "yyyy-mm-dd" in str(err.value)


def test_a_second_non_iso_format_is_refused():
    raw = sales_rows(
        ("31/01/2024", "A", "web", 1), ("31.01.2024", "A", "web", 1), ("30/01/2024", "A", "web", 1)
    )
    with pytest.raises(DataValidationError, match=r"more than one format.*row 2"):
        validate_table("sales", raw)


def test_duplicate_keys_name_both_rows():
    raw = sales_rows(
        ("2024-01-01", "A", "web", 1), ("2024-01-02", "A", "web", 1), ("2024-01-01", "A", "web", 2)
    )
    with pytest.raises(DataValidationError, match=r"duplicate key \(sku, channel, date\). 2 rows") as err:
        validate_table("sales", raw)
    assert "row 1 (sku='A', channel='web', date=2024-01-01)" in str(err.value)
    assert "row 3" in str(err.value)


def test_same_day_in_two_channels_is_no_duplicate():
    typed = validate_table("sales", sales_rows(("2024-01-01", "A", "web", 1), ("2024-01-01", "A", "shop", 1)))
    assert len(typed) == 2


def test_negative_units_point_to_returns():
    raw = sales_rows(("2024-01-01", "A", "web", 1), ("2024-01-02", "A", "web", -4))
    with pytest.raises(
        DataValidationError, match=r"column 'units': units must be >= 0. 1 row.*row 2.*units=-4.0.*returns"
    ):
        validate_table("sales", raw)


def test_nan_units_are_missing_values():
    raw = sales_rows(("2024-01-01", "A", "web", 1), ("2024-01-02", "A", "web", np.nan))
    with pytest.raises(
        DataValidationError, match=r"column 'units': missing values in a required column. 1 row.*row 2"
    ):
        validate_table("sales", raw)


def test_at_most_five_examples():
    raw = sales_rows(*[(f"2024-01-{d:02d}", "A", "web", -1) for d in range(1, 9)])
    with pytest.raises(DataValidationError, match="8 rows affected") as err:
        validate_table("sales", raw)
    assert len(err.value.examples) == 5
    assert "row 6" not in str(err.value)


def test_empty_table_is_an_error_and_sales_is_told_it_is_required():
    with pytest.raises(DataValidationError, match=r"'sales': the table is required but has no rows") as err:
        validate_table("sales", pd.DataFrame(columns=["date", "sku", "channel", "units"]))
    assert "leave the" not in str(err.value) and "add the sales history" in str(err.value)
    with pytest.raises(DataValidationError, match=r"'events': the table has no rows.*leave the 'events'"):
        validate_table("events", pd.DataFrame(columns=["date", "event"]))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("price", 0.0, r"column 'price': price must be > 0. 1 row.*row 1"),
        ("in_stock", 2, r"column 'in_stock': flag values other than 0 or 1. 1 row"),
        ("returns", -1.0, r"column 'returns': returns must be >= 0"),
    ],
)
def test_optional_sales_columns(column, value, message):
    raw = sales_rows(("2024-01-01", "A", "web", 1), **{column: [value]})
    with pytest.raises(DataValidationError, match=message):
        validate_table("sales", raw)


def test_missing_price_is_allowed():
    typed = validate_table("sales", sales_rows(("2024-01-01", "A", "web", 1), price=[np.nan]))
    assert typed["price"].isna().all()


def test_receipt_received_before_ordered():
    receipts = pd.DataFrame(
        {
            "supplier": ["S1", "S1"],
            "ordered_on": ["2024-01-01", "2024-02-10"],
            "received_on": ["2024-01-09", "2024-02-01"],
        }
    )
    with pytest.raises(
        DataValidationError,
        match=r"Table 'receipts', column 'received_on': received_on is before ordered_on. 1 row.*row 2",
    ):
        validate_table("receipts", receipts)


def test_promotion_ending_before_start():
    promotions = pd.DataFrame(
        {"sku": ["A"], "channel": ["web"], "start": ["2024-03-10"], "end": ["2024-03-01"]}
    )
    with pytest.raises(
        DataValidationError, match=r"Table 'promotions', column 'end': end is before start. 1 row.*row 1"
    ):
        validate_table("promotions", promotions)


def test_unknown_table():
    with pytest.raises(DataValidationError, match=r"Table 'orders': unknown table"):
        validate_table("orders", pd.DataFrame({"a": [1]}))


def test_events_channel_blank_means_every_channel():
    events = validate_table(
        "events",
        pd.DataFrame({"date": ["2024-01-01", "2024-01-02"], "event": ["x", "y"], "channel": [np.nan, "web"]}),
    )
    assert events["channel"].tolist() == ["", "web"]


def test_build_dataset_fills_gaps_and_marks_censoring():
    raw = sales_rows(
        ("2024-01-01", "B", "web", 5),
        ("2024-01-03", "B", "web", 0),
        ("2024-01-02", "A", "web", 2),
        ("2024-01-05", "A", "web", 1),
        in_stock=[1, 0, 1, 1],
        price=[2.0, 2.5, 3.0, 3.0],
    )
    sales = build_dataset({"sales": raw}).sales
    assert list(zip(sales["sku"], sales["date"].dt.day, strict=True)) == [
        ("A", 2),
        ("A", 3),
        ("A", 4),
        ("A", 5),
        ("B", 1),
        ("B", 2),
        ("B", 3),
        ("B", 4),
        ("B", 5),
    ]
    b = sales[sales["sku"] == "B"].set_index(sales.loc[sales["sku"] == "B", "date"].dt.day)
    assert b["units"].tolist() == [5, 0, 0, 0, 0]
    assert b["censored"].tolist() == [False, False, True, False, False]
    assert b["in_stock"].tolist() == [1, 1, 0, 1, 1]
    assert b["price"].tolist() == [2.0, 2.0, 2.5, 2.5, 2.5], "gap days carry the last known price"
    assert sales["units"].sum() == raw["units"].sum()
    assert sales["censored"].dtype == bool


def test_build_dataset_warns_about_unknown_skus(caplog):
    tables = {
        "sales": sales_rows(("2024-01-01", "A", "web", 1), ("2024-01-01", "Z9", "web", 1)),
        "skus": pd.DataFrame({"sku": ["A"], "unit_cost": [1.0], "unit_price": [2.0]}),
    }
    with caplog.at_level(logging.WARNING, logger="features.validation"):
        dataset = build_dataset(tables)
    assert dataset.warnings == ["1 sales SKU(s) missing from the 'skus' table: Z9"]
    assert "Z9" in caplog.text
    assert dataset.skus is not None and dataset.skus["unit_price"].tolist() == [2.0]


def test_build_dataset_requires_sales():
    with pytest.raises(DataValidationError, match=r"Table 'sales': no sales table"):
        build_dataset({"skus": pd.DataFrame({"sku": ["A"], "unit_cost": [1.0], "unit_price": [2.0]})})


def test_weekly_and_monthly_grids():
    weekly = sales_rows(
        ("2024-01-04", "A", "s1", 1), ("2024-01-25", "A", "s1", 2), ("2024-01-11", "B", "s1", 3)
    )
    completed = build_dataset({"sales": weekly}, freq="auto").sales
    assert completed["date"].dt.dayofweek.nunique() == 1
    assert len(completed) == 4 + 3
    monthly = sales_rows(("2024-01-01", "A", "p", 1), ("2024-04-01", "A", "p", 2))
    assert infer_frequency(validate_table("sales", monthly)["date"]) == "MS"
    months = build_dataset({"sales": monthly}, freq="MS").sales
    assert months["date"].dt.month.tolist() == [1, 2, 3, 4]
    assert months["units"].tolist() == [1, 0, 0, 2]


def test_monthly_grid_rejects_mid_month_dates():
    raw = sales_rows(("2024-01-01", "A", "p", 1), ("2024-02-15", "A", "p", 2))
    with pytest.raises(
        DataValidationError, match=r"column 'date': dates not on the 1st of a month.*1 row.*row 2"
    ):
        build_dataset({"sales": raw}, freq="MS")


def test_unknown_frequency():
    with pytest.raises(ValueError, match=r"The 'freq' must be one of"):
        complete_sales(validate_table("sales", sales_rows(("2024-01-01", "A", "p", 1))), freq="H")


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(["web", "shop"]),
            st.integers(0, 40),
            st.integers(0, 9),
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda row: row[:3],
    )
)
def test_completion_keeps_units_and_makes_consecutive_days(rows):
    raw = pd.DataFrame(
        {
            "date": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=r[2]) for r in rows],
            "sku": [r[0] for r in rows],
            "channel": [r[1] for r in rows],
            "units": [float(r[3]) for r in rows],
        }
    )
    sales = build_dataset({"sales": raw}).sales
    assert sales["units"].sum() == raw["units"].sum()
    last = raw["date"].max()
    for (sku, channel), group in sales.groupby(["sku", "channel"], observed=True):
        first = raw.loc[(raw["sku"] == sku) & (raw["channel"] == channel), "date"].min()
        assert group["date"].tolist() == list(pd.date_range(first, last))
    assert not sales.duplicated(["sku", "channel", "date"]).any()


def test_caller_frame_keeps_its_index_and_column_names():
    raw = sales_rows(("2024-01-01", "A", "web", 1), ("2024-01-02", "A", "web", 2))
    raw.index = pd.Index([10, 20])
    raw.columns = ["date", "sku", "channel", " units "]
    typed = validate_table("sales", raw)
    assert list(typed.index) == [0, 1]
    assert "units" in typed.columns
    assert list(raw.index) == [10, 20]
    assert list(raw.columns) == ["date", "sku", "channel", " units "]


def test_boolean_flags_become_zero_one():
    typed = validate_table(
        "sales", sales_rows(("2024-01-01", "A", "web", 1), ("2024-01-02", "A", "web", 0), promo=[True, False])
    )
    assert typed["promo"].tolist() == [1, 0]
    assert typed["promo"].dtype == np.int8


def test_a_row_years_before_the_rest_is_refused_with_the_row_named():
    days = pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d").tolist()
    rows = [(d, "A", "web", 2) for d in days] + [("2019-06-01", "B", "web", 3)]
    with pytest.raises(DataValidationError, match=r"column 'date': dates far outside the rest") as err:
        build_dataset({"sales": sales_rows(*rows)})
    message = str(err.value)
    assert "1 row affected" in message and "row 61 (sku='B', channel='web', date=2019-06-01)" in message
    assert "2024-01-01 to 2024-02-29" in message and "Fix: correct the year" in message


def test_a_row_years_after_the_rest_is_refused_but_a_steady_history_with_a_gap_is_kept():
    days = pd.date_range("2024-01-01", periods=60).strftime("%Y-%m-%d").tolist()
    typo = [(d, "A", "web", 2) for d in days] + [("2042-01-05", "A", "web", 1)]
    with pytest.raises(DataValidationError, match=r"dates far outside the rest.*row 61"):
        build_dataset({"sales": sales_rows(*typo)})
    # Two real seasons a year apart (half the rows each) are not a typo.
    later = pd.date_range("2025-01-01", periods=60).strftime("%Y-%m-%d").tolist()
    both = [(d, "A", "web", 2) for d in days + later]
    assert len(build_dataset({"sales": sales_rows(*both)}).sales) > 120
