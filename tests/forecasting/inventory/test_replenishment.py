"""Order advice from published policy rows: published figures, grid overrides, rounding, bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from forecasting.inventory.replenishment import StockPosition, recommend, recommend_many
from forecasting.inventory.safety_stock import round_order
from tests.serving.api_support import build_run

LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99]
VALUES = [40.0, 48.0, 53.0, 58.0, 70.0]


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "policy": "SAFETY_STOCK", "service_level": 0.95, "lead_time_mean": 7.0, "expected_demand": 42.0,
        "reorder_point": 58.0, "safety_stock": 16.0, "order_up_to": 72.0, "review_demand": 14.0,
        "daily_mean": 2.0, "ltd_levels": LEVELS, "ltd_quantiles": VALUES,
    }
    row.update(changes)
    return row


def test_without_overrides_the_published_figures_decide_the_order() -> None:
    row = _row()
    below = recommend(row, StockPosition(on_hand=30.0, on_order=10.0, backorders=5.0))
    assert below.source == "published"
    assert below.inventory_position == 35.0
    assert below.order_now
    assert below.order_qty == row["order_up_to"] - 35.0
    assert below.reorder_point == row["reorder_point"]
    above = recommend(row, StockPosition(on_hand=80.0))
    assert not above.order_now
    assert above.order_qty == 0.0


def test_order_is_rounded_up_to_moq_then_whole_packs() -> None:
    row = _row(moq=25.0, pack_size=10.0)
    rec = recommend(row, StockPosition(on_hand=55.0))
    wanted = float(row["order_up_to"]) - 55.0
    assert rec.order_qty == float(round_order(np.array([wanted]), 25.0, 10.0)[0])
    assert rec.order_qty >= 25.0
    assert rec.order_qty % 10.0 == 0.0


def test_service_level_override_interpolates_the_grid() -> None:
    rec = recommend(_row(), StockPosition(on_hand=0.0, service_level=0.97))
    assert rec.source == "grid"
    assert rec.service_level == 0.97
    assert rec.reorder_point == pytest.approx(np.interp(0.97, LEVELS, VALUES))
    assert VALUES[3] < rec.reorder_point < VALUES[4]
    assert rec.safety_stock == pytest.approx(rec.reorder_point - 42.0)
    assert rec.order_up_to == pytest.approx(rec.reorder_point + 14.0)
    assert rec.demand_quantiles["0.9"] == VALUES[2]


def test_higher_service_level_never_lowers_the_reorder_point() -> None:
    points = [recommend(_row(), StockPosition(0.0, service_level=s)).reorder_point
              for s in np.linspace(0.5, 0.99, 25)]
    assert np.all(np.diff(points) >= 0)


def test_lead_time_override_rescales_mean_by_days_and_spread_by_sqrt_days() -> None:
    row = _row()
    rec = recommend(row, StockPosition(on_hand=0.0, lead_time_days=14.0))
    review_days = 14.0 / 2.0
    ratio = (14.0 + review_days) / (7.0 + review_days)
    assert rec.source == "grid_rescaled"
    assert rec.lead_time_days == 14.0
    assert rec.expected_demand == pytest.approx(42.0 * ratio)
    spread_old = VALUES[-1] - VALUES[0]
    spread_new = rec.demand_quantiles["0.99"] - rec.demand_quantiles["0.5"]
    assert spread_new == pytest.approx(spread_old * math.sqrt(ratio))
    assert rec.safety_stock == pytest.approx(16.0 * math.sqrt(ratio))
    assert any("approximated" in note for note in rec.notes)
    shorter = recommend(row, StockPosition(on_hand=0.0, lead_time_days=3.0))
    assert shorter.reorder_point < row["reorder_point"] < rec.reorder_point


def test_both_overrides_combine() -> None:
    rec = recommend(_row(), StockPosition(0.0, service_level=0.9, lead_time_days=10.0))
    assert rec.source == "grid_rescaled"
    assert rec.reorder_point == pytest.approx(rec.demand_quantiles["0.9"])


def test_overrides_without_a_grid_fall_back_to_published_and_say_so() -> None:
    row = _row(ltd_levels=None, ltd_quantiles=None)
    rec = recommend(row, StockPosition(on_hand=0.0, service_level=0.99))
    assert rec.source == "published_fallback"
    assert rec.reorder_point == row["reorder_point"]
    assert rec.demand_quantiles == {}
    assert rec.notes and "could not be applied" in rec.notes[0]


@pytest.mark.parametrize(
    ("position", "match"),
    [
        (StockPosition(on_hand=1.0, on_order=-1.0), "'on_order' must be >= 0"),
        (StockPosition(on_hand=1.0, backorders=-2.0), "'backorders' must be >= 0"),
        (StockPosition(on_hand=math.nan), "'on_hand' must be a finite"),
        (StockPosition(on_hand=1.0, service_level=1.2), r"'service_level' override must be in \(0, 1\)"),
        (StockPosition(on_hand=1.0, lead_time_days=0.0), r"'lead_time_days' override must be in \(0, 365\]"),
    ],
)
def test_bad_positions_are_refused_with_the_field_and_range(position: StockPosition, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        recommend(_row(), position)


def test_service_level_outside_the_grid_names_the_range() -> None:
    with pytest.raises(ValueError, match=r"within the published grid \[0.5, 0.99\]. Got 0.3"):
        recommend(_row(), StockPosition(on_hand=0.0, service_level=0.3))


def test_recommend_many_aligns_and_names_the_failing_item() -> None:
    rows = [_row(), _row(reorder_point=10.0, order_up_to=20.0)]
    out = recommend_many(rows, [StockPosition(0.0), StockPosition(50.0)])
    assert [r.order_now for r in out] == [True, False]
    with pytest.raises(ValueError, match="Item 1: The 'on_order'"):
        recommend_many(rows, [StockPosition(0.0), StockPosition(0.0, on_order=-1.0)])
    with pytest.raises(ValueError, match="one stock position per policy row"):
        recommend_many(rows, [StockPosition(0.0)])


def test_published_rows_reproduce_the_policy_engines_order_decision() -> None:
    policies = build_run().policies
    for record in policies.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        position = StockPosition(row["on_hand"], row["on_order"], row["backorders"])
        rec = recommend(row, position)
        assert rec.order_now == bool(row["order_now"])
        assert rec.order_qty == pytest.approx(row["order_qty"])
