"""The change cap between published runs: small steps unless a spike, a shift or a slip justifies more."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.inventory.change_cap import limit_changes
from forecasting.inventory.rules import load_rules, parse_rules
from forecasting.inventory.safety_stock import cap_change


def _policies(rops: list[float], policy: list[str], reasons: list[list[str]]) -> pd.DataFrame:
    n = len(rops)
    rop = np.array(rops)
    return pd.DataFrame({
        "sku": [f"s{i}" for i in range(n)], "channel": "web", "policy": policy, "reasons": reasons,
        "reorder_point": rop, "safety_stock": rop - 10.0, "order_up_to": rop + 5.0,
        "inventory_position": np.full(n, 12.0), "order_now": False, "order_qty": 0.0,
    })


def test_cap_change_clips_to_the_ratio_and_leaves_unknown_previous() -> None:
    got = cap_change(np.array([100.0, 10.0, 50.0, 7.0]), np.array([20.0, 40.0, np.nan, 0.0]), 2.0)
    assert got.tolist() == [40.0, 20.0, 50.0, 7.0]


def test_small_steps_unless_a_spike_a_slip_or_a_shift_justifies_more() -> None:
    new = _policies([100.0, 100.0, 100.0, 100.0, 30.0],
                    ["SAFETY_STOCK", "SEASONAL_HYBRID", "SAFETY_STOCK", "SAFETY_STOCK", "JIT"],
                    [["class A"], ["spike window 2024-11-01..2024-12-20 ahead"],
                     ["planned on 8.4 days: SUP006 slipped from 4.0 since 2024-10-02"], ["class B"], ["c"]])
    previous = new[["sku", "channel"]].assign(reorder_point=[20.0, 20.0, 20.0, 20.0, 20.0])
    shifts = pd.DataFrame({"sku": ["s3"], "channel": ["web"]})
    out = limit_changes(new, previous, 2.0, shifts=shifts)
    assert out["reorder_point"].tolist() == [40.0, 100.0, 100.0, 100.0, 30.0]
    assert out["capped"].tolist() == [True, False, False, False, False]
    # The lot S - s and the distance to expected demand are kept; the order is decided at the capped s.
    assert out.loc[0, "order_up_to"] == 45.0 and out.loc[0, "safety_stock"] == 30.0
    assert out.loc[0, "order_now"] and out.loc[0, "order_qty"] == pytest.approx(33.0)
    assert "capped at 2x the last run's 20.0 (uncapped 100.0)" in out.loc[0, "reasons"][-1]
    assert "lifted (spike window ahead)" in out.loc[1, "reasons"][-1]
    assert "lifted (supplier slipped)" in out.loc[2, "reasons"][-1]
    assert "lifted (volatility shift)" in out.loc[3, "reasons"][-1]
    assert out.loc[4, "reasons"] == ["c"]  # within the cap: nothing to say


def test_no_previous_run_or_no_ratio_changes_nothing() -> None:
    new = _policies([100.0], ["JIT"], [["x"]])
    assert limit_changes(new, None, 2.0)["reorder_point"].tolist() == [100.0]
    previous = new[["sku", "channel"]].assign(reorder_point=[1.0])
    assert limit_changes(new, previous, None)["reorder_point"].tolist() == [100.0]


def test_the_ratio_is_a_rule_and_must_exceed_one() -> None:
    assert load_rules().max_change_ratio == 2.0
    with pytest.raises(ValueError, match="max_change_ratio"):
        parse_rules({"max_change_ratio": 0.5})
