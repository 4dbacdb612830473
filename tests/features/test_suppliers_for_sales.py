"""Simulated suppliers for a sales table: every law is present and measurable from the receipts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.synthetic import generate_catalogue
from features.synthetic.suppliers_for_sales import SUPPLIER_LAWS, simulate_suppliers
from features.validation import build_dataset
from forecasting.inventory.leadtime import audit_lead_times


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    sales = generate_catalogue(40, 2, 400, 5).tables["sales"]
    return sales[["date", "sku", "channel", "units", "price"]]


def test_every_law_has_skus_and_receipts_matching_its_mean(sales: pd.DataFrame) -> None:
    supply = simulate_suppliers(sales, seed=3)
    assert set(supply.skus["sku"]) == set(sales["sku"])
    assert set(supply.skus["supplier"]) == set(supply.suppliers["supplier"])
    assert (supply.skus["unit_cost"] < supply.skus["unit_price"]).all()
    rec = supply.receipts
    rec = rec.assign(days=(rec["received_on"] - rec["ordered_on"]).dt.days)
    measured = rec.groupby("supplier")["days"].mean()
    for law in supply.truth.to_dict(orient="records"):
        # Rounded normal draws: the mean within 4 standard errors of the law's.
        n = int((rec["supplier"] == law["supplier"]).sum())
        assert n > 20
        tol = 4 * law["lead_time_sd"] / np.sqrt(n) + 0.5
        assert abs(measured[law["supplier"]] - law["lead_time_mean"]) < tol
    assert len(supply.truth) == len(SUPPLIER_LAWS)


def test_the_tables_validate_and_the_audit_sees_the_late_domestic_supplier(sales: pd.DataFrame) -> None:
    supply = simulate_suppliers(sales, seed=3)
    data = build_dataset({"sales": sales, **supply.tables()})
    audit = audit_lead_times(data, data.end_date)
    late = supply.truth.loc[supply.truth["role"] == "domestic_late", "supplier"].iloc[0]
    row = audit.suppliers.set_index("supplier").loc[late]
    assert row["promised_days"] == 4 and 7.5 < row["mean_days"] < 10.5


def test_same_seed_same_tables_and_prices_from_sales(sales: pd.DataFrame) -> None:
    a, b = simulate_suppliers(sales, seed=1), simulate_suppliers(sales, seed=1)
    pd.testing.assert_frame_equal(a.receipts, b.receipts)
    median = sales.groupby("sku", observed=True)["price"].median()
    got = a.skus.set_index("sku")["unit_price"]
    assert np.allclose(got, median.reindex(got.index).round(2))


def test_bad_sales_is_refused() -> None:
    with pytest.raises(ValueError, match="'sales' lacks column"):
        simulate_suppliers(pd.DataFrame({"date": [], "sku": []}))
