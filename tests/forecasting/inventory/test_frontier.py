"""The classic sweep, total cost and the comparison at equal fill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.inventory.frontier import (
    class_service,
    classic_frontier,
    compare_to_frontier,
    frontier_value,
)
from forecasting.inventory.rules import load_rules
from forecasting.inventory.simulator import (
    ALL_SAFETY_STOCK,
    BLENDED,
    SimulationConfig,
    classic_name,
    simulate,
)


@pytest.fixture(scope="module")
def swept():
    catalogue = generate_catalogue(12, 2, 300, 5)
    data = build_dataset(catalogue.tables)
    config = SimulationConfig(days=120, n_paths=100, classic_levels=(0.8, 0.9, 0.95, 0.99))
    return data, simulate(data, load_rules(), config, demand=catalogue.truth.mean)


def test_the_sweep_runs_each_level_and_matches_all_safety_stock_at_its_level(swept) -> None:
    _, result = swept
    overall = result.kpis[result.kpis["segment"] == "ALL"].set_index("policy")
    assert {classic_name(v) for v in (0.8, 0.9, 0.95, 0.99)} <= set(overall.index)
    # Same plan, same demand, same lead-time draws: the sweep's 0.95 row is ALL_SAFETY_STOCK.
    pd.testing.assert_series_equal(overall.loc[classic_name(0.95)], overall.loc[ALL_SAFETY_STOCK],
                                   check_names=False)
    frontier = classic_frontier(result.kpis)
    assert frontier["avg_inventory_value"].is_monotonic_increasing
    assert frontier["fill_rate"].iloc[-1] >= frontier["fill_rate"].iloc[0]


def test_total_cost_is_holding_plus_lost_margin(swept) -> None:
    data, result = swept
    cfg = result.config
    series = result.series[result.series["policy"] == BLENDED]
    skus = data.skus.set_index("sku")
    margin = (series["sku"].map(skus["unit_price"]) - series["sku"].map(skus["unit_cost"])).clip(lower=0)
    lost = float(((series["demand"] - series["sales"]) * margin).sum())
    holding = cfg.holding_rate / 365 * float(series["inventory_value"].sum())
    row = result.kpis[(result.kpis["policy"] == BLENDED) & (result.kpis["segment"] == "ALL")].iloc[0]
    assert row["lost_margin"] == pytest.approx(lost)
    assert row["total_cost"] == pytest.approx(lost + holding)


def test_comparison_reads_the_frontier_at_each_policys_fill(swept) -> None:
    _, result = swept
    comparison = compare_to_frontier(result.kpis).set_index("policy")
    frontier = classic_frontier(result.kpis)
    blended = comparison.loc[BLENDED]
    value, extrapolated = frontier_value(frontier, blended["fill_rate"])
    assert blended["frontier_value"] == pytest.approx(value)
    assert blended["saving_at_equal_fill"] == pytest.approx(1 - blended["avg_inventory_value"] / value)
    assert comparison["cost_rank"].min() == 1 and comparison.loc[BLENDED, "extrapolated"] == extrapolated
    service = class_service(result.kpis, load_rules().service_levels)
    assert set(service["class"]) <= {"A", "B", "C"} and not service.empty


def test_frontier_value_interpolates_inside_and_flags_outside() -> None:
    frontier = pd.DataFrame({"level": [0.8, 0.9, 0.95], "fill_rate": [0.90, 0.94, 0.96],
                             "avg_inventory_value": [100.0, 140.0, 180.0], "total_cost": [1.0, 1.0, 1.0]})
    assert frontier_value(frontier, 0.92) == (pytest.approx(120.0), False)
    value, extrapolated = frontier_value(frontier, 0.97)
    assert extrapolated and value == pytest.approx(200.0)
    assert np.isnan(frontier_value(frontier.head(1), 0.9)[0])


def test_levels_outside_the_open_interval_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(0.5, 1\)"):
        SimulationConfig(classic_levels=(0.9, 1.0))
