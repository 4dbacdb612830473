"""Purchase-order proposals on the synthetic catalogue (real policies, real inventory table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.inventory.purchase_orders import (
    NoInventoryError,
    proposal_records,
    propose_orders,
    with_order_inputs,
)
from forecasting.inventory.safety_stock import round_order
from tests.serving.api_support import build_run


@pytest.fixture(scope="module")
def policies() -> pd.DataFrame:
    run = build_run(n_skus=30, n_channels=2, seed=5)
    return run.policies


def _expected_lines(pol: pd.DataFrame) -> pd.DataFrame:
    """The policies' own order advice (IP <= s: S - IP), consolidated per supplier and SKU, by hand."""
    ip = pol["on_hand"] + pol["on_order"] - pol["backorders"]
    due = pol[(ip <= pol["reorder_point"]) & (pol["order_up_to"] - ip > 0)]
    due = due.assign(need=due["order_up_to"] - ip[due.index])
    return due.groupby(["supplier", "sku"], as_index=False).agg(need=("need", "sum"), moq=("moq", "first"),
                                                                 pack=("pack_size", "first"),
                                                                 advice=("order_qty", "sum"),
                                                                 cost=("unit_cost", "first"))


def test_orders_equal_the_policies_advice_per_supplier_line_by_line(policies: pd.DataFrame) -> None:
    proposal = propose_orders(policies, "2024-01-01")
    expected = _expected_lines(policies)
    assert len(expected) > 5, "the synthetic catalogue should have several SKUs due"
    got = proposal.lines.set_index(["supplier", "sku"]).sort_index()
    exp = expected.set_index(["supplier", "sku"]).sort_index()
    assert list(got.index) == list(exp.index)
    np.testing.assert_allclose(got["need_units"], exp["need"])
    # One rounding per SKU: the consolidated need rounded up to the MOQ and whole packs.
    np.testing.assert_allclose(got["order_qty"], round_order(exp["need"].to_numpy(), exp["moq"].to_numpy(),
                                                             exp["pack"].to_numpy()))
    # The channels' own advice (each channel rounded by itself) summed: never less than the consolidated line.
    np.testing.assert_allclose(got["channel_advice_qty"], exp["advice"])
    assert (got["order_qty"] <= got["channel_advice_qty"] + 1e-9).all()
    np.testing.assert_allclose(got["line_value"], got["order_qty"] * exp["cost"])
    # One order per supplier on the order date, totals are the sums of its lines.
    assert list(proposal.orders["supplier"]) == sorted(exp.index.get_level_values(0).unique())
    totals = proposal.lines.groupby("supplier")["line_value"].sum()
    np.testing.assert_allclose(proposal.orders.set_index("supplier")["total_value"], totals)
    assert proposal.n_due == int(proposal.lines["channels"].map(len).sum())


def test_moq_and_pack_rounding_holds_for_every_line(policies: pd.DataFrame) -> None:
    lines = propose_orders(policies, "2024-01-01").lines
    assert len(lines) and (lines["pack_size"] > 1).any() and (lines["moq"] > 0).any()
    qty, pack, moq, need = (lines[c].to_numpy() for c in ("order_qty", "pack_size", "moq", "need_units"))
    assert (qty >= moq).all() and (qty >= need - 1e-9).all()
    np.testing.assert_allclose(qty / pack, np.round(qty / pack))
    # Minimal: one pack fewer would break the need or the MOQ.
    assert ((qty - pack < need - 1e-9) | (qty - pack < moq)).all()
    rounded = lines[qty > need + 1e-9]
    assert rounded["reasons"].map(lambda r: r[-1].startswith("rounded up")).all()


def test_arrival_is_the_measured_lead_time_after_the_order_date(policies: pd.DataFrame) -> None:
    lines = propose_orders(policies, "2024-03-01").lines
    days = (lines["expected_arrival"] - pd.Timestamp("2024-03-01")).dt.days
    np.testing.assert_array_equal(days, np.ceil(lines["lead_time_days"]))
    assert (lines["latest_arrival"] >= lines["expected_arrival"]).all()


def test_a_fresh_inventory_table_replaces_the_published_positions(policies: pd.DataFrame) -> None:
    inv = policies[["sku", "channel"]].copy()
    inv["on_hand"] = policies["order_up_to"] + 1.0  # everyone above S: nothing to order
    inv["on_order"] = 0.0
    assert propose_orders(policies, "2024-01-01", inventory=inv).lines.empty
    first = policies.iloc[0]
    inv.loc[0, "on_hand"] = 0.0
    inv.loc[0, "on_order"] = 0.0
    lines = propose_orders(policies, "2024-01-01", inventory=inv).lines
    if first["order_up_to"] > 0:
        assert list(lines["sku"]) == [first["sku"]]
        assert lines["need_units"].iloc[0] == pytest.approx(first["order_up_to"])


@pytest.mark.parametrize(("column", "value", "words"), [
    ("on_hand", -3.0, "on_hand"), ("on_order", float("nan"), "on_order"), ("sku", "NOPE", "did not plan"),
])
def test_bad_inventory_tables_name_the_column_and_rows(policies: pd.DataFrame, column: str, value: object,
                                                       words: str) -> None:
    inv = policies[["sku", "channel", "on_hand", "on_order"]].copy()
    inv[column] = inv[column].astype(object)
    inv.loc[0, column] = value
    with pytest.raises(ValueError, match=words):
        propose_orders(policies, "2024-01-01", inventory=inv)


def test_without_an_inventory_table_it_says_what_to_load(policies: pd.DataFrame) -> None:
    blind = policies.assign(stock_known=False, on_hand=0.0, on_order=0.0)
    with pytest.raises(NoInventoryError, match=r"inventory\.csv"):
        propose_orders(blind, "2024-01-01")


def test_supplier_filter_and_unknown_supplier(policies: pd.DataFrame) -> None:
    all_lines = propose_orders(policies, "2024-01-01").lines
    name = str(all_lines["supplier"].iloc[0])
    one = propose_orders(policies, "2024-01-01", supplier=name)
    assert set(one.lines["supplier"]) == {name}
    assert len(one.lines) == int((all_lines["supplier"] == name).sum())
    with pytest.raises(ValueError, match="Unknown supplier"):
        propose_orders(policies, "2024-01-01", supplier="Nobody Ltd")


def test_records_nest_lines_and_are_json_ready(policies: pd.DataFrame) -> None:
    import json

    records = proposal_records(propose_orders(policies, "2024-01-01"))
    text = json.dumps(records)
    assert "NaN" not in text
    assert sum(len(o["lines"]) for o in records) == len(propose_orders(policies, "2024-01-01").lines)
    assert records[0]["order_date"] == "2024-01-01"


def test_with_order_inputs_flags_the_series_with_stock() -> None:
    from features.synthetic import generate_catalogue
    from features.validation import build_dataset

    data = build_dataset(generate_catalogue(4, 2, 120, 1).tables)
    assert data.inventory is not None
    pol = data.inventory[["sku", "channel"]].astype(str).assign(policy="jit")
    data.inventory = data.inventory.iloc[1:]
    out = with_order_inputs(pol, data)
    assert not out["stock_known"].iloc[0] and out["stock_known"].iloc[1:].all()
    assert out["unit_cost"].notna().all() and (out["pack_size"] >= 1).all()
