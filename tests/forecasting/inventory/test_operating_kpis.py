"""Realized KPIs on a hand-made operating history with hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.validation import build_dataset
from forecasting.inventory.operating_kpis import inventory_levels, operating_kpis

END = pd.Timestamp("2024-06-30")
DAYS = pd.date_range(END - pd.Timedelta(days=181), END)  # two quarters of 91 days


def _data():
    """A: 5 units/day, never out, price 4 / cost 2, 455 on hand at the end, no receipt in the last quarter.
    B: 10 units/day, out of stock in runs of 3 days and 1 day in the last quarter, 1 unit returned
    on 10 days, cost 0.5 / price 1, 100 on hand, a receipt of 300 units 20 days before the end."""
    common = {"channel": "web", "date": DAYS, "in_stock": 1, "returns": 0.0}
    a = pd.DataFrame({"sku": "A", "units": 5.0, **common})
    b = pd.DataFrame({"sku": "B", "units": 10.0, **common})
    out = b["date"].isin(pd.date_range("2024-05-01", periods=3)) | (b["date"] == pd.Timestamp("2024-06-10"))
    b.loc[out, ["units", "in_stock"]] = [0.0, 0]
    b.loc[b.index[-10:], "returns"] = 1.0
    sales = pd.concat([a, b], ignore_index=True)
    skus = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [2.0, 0.5], "unit_price": [4.0, 1.0],
                         "supplier": ["S1", "S2"]})
    ordered = pd.to_datetime(["2024-01-10", "2024-02-10", "2024-03-10"])
    receipts = pd.DataFrame({"supplier": "S1", "sku": "A", "ordered_on": ordered,
                             "received_on": ordered + pd.to_timedelta([5, 7, 9], unit="D"),
                             "promised_on": ordered + pd.Timedelta(days=7), "qty": 0.0})
    receipts = pd.concat([receipts, pd.DataFrame({
        "supplier": ["S2"], "sku": ["B"], "ordered_on": [END - pd.Timedelta(days=30)],
        "received_on": [END - pd.Timedelta(days=20)], "promised_on": [END - pd.Timedelta(days=25)],
        "qty": [300.0]})], ignore_index=True)
    inventory = pd.DataFrame({"sku": ["A", "B"], "channel": ["web", "web"], "on_hand": [455.0, 100.0],
                              "as_of": [END, END]})
    suppliers = pd.DataFrame({"supplier": ["S1", "S2"], "promised_lead_time_days": [7, 5]})
    return build_dataset({"sales": sales, "skus": skus, "receipts": receipts, "inventory": inventory,
                          "suppliers": suppliers})


SEGMENTS = pd.DataFrame({"sku": ["A", "B"], "channel": ["web", "web"], "policy": ["jit", "safety_stock"],
                         "abc": ["A", "B"]})


@pytest.fixture(scope="module")
def kpis():
    return operating_kpis(_data(), SEGMENTS, END, quarters=2, holding_rate=0.25)


def _group(kpis, policy: str, quarter: int = 0) -> pd.Series:
    g = kpis.groups
    ends = sorted(g["quarter_end"].unique(), reverse=True)
    return g[(g["policy"] == policy) & (g["abc"] != "all") & (g["quarter_end"] == ends[quarter])].iloc[0]


def test_jit_group_turnover_days_of_inventory_and_carrying_cost(kpis) -> None:
    a = _group(kpis, "jit")
    # Levels over the quarter: 455 + 5 x (days to the end) for 0..90 days: mean 455 + 5 x 45 = 680 units.
    assert a["avg_inventory_value"] == pytest.approx(680 * 2.0)
    assert a["units"] == 455 and a["revenue"] == pytest.approx(1820.0) and a["cogs"] == pytest.approx(910.0)
    assert a["turnover"] == pytest.approx(910 * 365 / 91 / 1360)          # 2.684 turns a year
    assert a["days_of_inventory"] == pytest.approx(1360 / (910 / 91))       # 136 days
    assert a["carrying_cost_pct"] == pytest.approx(100 * 0.25 * 1360 * 91 / 365 / 1820)  # 4.66 %
    assert a["stockout_rate"] == 0 and a["stockout_events_per_sku"] == 0
    assert a["lead_time_mean"] == pytest.approx(7.0)
    assert a["cash_cycle_days"] == pytest.approx(7.0 + 136.0)
    assert a["returns_rate"] == 0


def test_safety_stock_group_stockouts_and_returns(kpis) -> None:
    b = _group(kpis, "safety_stock")
    assert b["stockout_events_per_sku"] == 2                 # a 3-day run and a 1-day run
    assert b["stockout_rate"] == pytest.approx(4 / 91)
    assert b["units"] == (91 - 4) * 10 - 10                  # net of the 10 returned units
    assert b["returns_rate"] == pytest.approx(10 / 870)


def test_inventory_is_reconstructed_through_the_receipt() -> None:
    levels = inventory_levels(_data(), END - pd.Timedelta(days=90), END)
    b = levels[levels["sku"] == "B"].set_index("date")["level"]
    assert b[END] == 100
    # 20 days before the end: 100 + 20 days x 10 sold - 10 returned (last 10 days) - 300 received after
    # that day's close... the receipt lands ON that day, so the day's close already holds it: 100 + 190.
    assert b[END - pd.Timedelta(days=20)] == pytest.approx(100 + 200 - 10)
    assert b[END - pd.Timedelta(days=21)] == pytest.approx(100 + 210 - 10 - 300)
    assert (levels["level"] >= 0).all()


def test_supplier_lead_time_mean_variance_and_on_time(kpis) -> None:
    s = kpis.suppliers
    s1 = s[s["supplier"] == "S1"].iloc[0]
    assert s1["n_receipts"] == 3 and s1["lead_time_mean"] == 7 and s1["lead_time_var"] == pytest.approx(4.0)
    assert s1["on_time_rate"] == pytest.approx(2 / 3)
    s2 = s[s["supplier"] == "S2"].iloc[0]
    assert s2["on_time_rate"] == 0  # promised 25 days before the end, received 20 days before


def test_totals_and_trend_have_every_quarter(kpis) -> None:
    total = kpis.groups[(kpis.groups["policy"] == "all") & (kpis.groups["abc"] == "all")]
    assert len(total) == 2
    last = total.sort_values("quarter_end").iloc[-1]
    assert last["units"] == 455 + 860
    assert last["stockout_events_per_sku"] == pytest.approx(1.0)
    assert np.isfinite(total["turnover"]).all()


@pytest.mark.parametrize("rate", [0, 1.5, -0.1, float("nan")])
def test_holding_rate_must_be_a_fraction(rate: float) -> None:
    with pytest.raises(ValueError, match="holding_rate"):
        operating_kpis(_data(), SEGMENTS, END, holding_rate=rate)
