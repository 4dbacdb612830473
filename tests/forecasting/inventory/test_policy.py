"""compute_policies end to end on a hand-made dataset with Poisson paths, and pooling across channels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from features.dataset import Dataset
from features.importers import import_m5
from features.validation import build_dataset
from forecasting.inventory.policy import POLICY_COLUMNS, compute_policies, pool_by_sku
from forecasting.inventory.rules import JIT, SAFETY_STOCK, SEASONAL_HYBRID, load_rules, parse_rules
from models.base import SamplePaths
from models.baselines import SeasonalNaive
from tests.conftest import SHARED_DATA

RATES = {"fast": 20.0, "slow": 0.5, "steady": 3.0}
DATES = pd.date_range("2025-01-01", periods=364)


def _data(inventory: pd.DataFrame | None = None) -> Dataset:
    rng = np.random.default_rng(0)
    frames = []
    for sku, lam in RATES.items():
        for channel in ("web", "app"):
            units = rng.poisson(lam, len(DATES)).astype(float)
            frames.append(pd.DataFrame({"date": DATES, "sku": sku, "channel": channel, "units": units,
                                        "censored": False}))
    skus = pd.DataFrame({"sku": list(RATES), "unit_cost": [10.0, 1.0, 1.0], "unit_price": [20.0, 2.0, 2.0],
                         "supplier": ["FIXED", "FIXED", "FIXED"], "moq": [0.0, 10.0, 0.0],
                         "pack_size": [1.0, 4.0, 1.0]})
    suppliers = pd.DataFrame({"supplier": ["FIXED"], "promised_lead_time_days": [7.0]})
    ordered = pd.date_range("2025-01-01", periods=40, freq="8D")
    receipts = pd.DataFrame({"supplier": "FIXED", "ordered_on": ordered,
                             "received_on": ordered + pd.Timedelta(days=7)})
    return Dataset(sales=pd.concat(frames, ignore_index=True), skus=skus, suppliers=suppliers,
                   receipts=receipts, inventory=inventory)


def _rows(frame: pd.DataFrame) -> dict[tuple[str, str], dict[Any, Any]]:
    """Rows by (sku, channel) as plain dicts."""
    return {(r["sku"], r["channel"]): r for r in frame.to_dict(orient="records")}


def _paths(data: Dataset, n_paths: int = 4000, horizon: int = 21) -> SamplePaths:
    keys = data.series()
    lam = keys["sku"].map(RATES).to_numpy()[:, None, None]
    values = np.random.default_rng(1).poisson(lam, (len(keys), n_paths, horizon)).astype(float)
    return SamplePaths(keys, data.end_date + pd.Timedelta(days=1), values)


def test_safety_stock_rows_read_the_poisson_quantile_over_lead_time_plus_review() -> None:
    data = _data()
    rules = load_rules()
    frame = compute_policies(data, _paths(data), rules)
    assert list(frame.columns) == POLICY_COLUMNS
    row = _rows(frame)[("fast", "web")]
    assert row["policy"] == SAFETY_STOCK and row["abc"] == "A"
    protection = 7 + rules.review_period_days  # every receipt took exactly 7 days
    assert row["lead_time_mean"] == pytest.approx(7.0)
    assert row["reorder_point"] == pytest.approx(stats.poisson.ppf(0.97, 20.0 * protection), abs=3)
    assert row["expected_demand"] == pytest.approx(20.0 * protection, rel=0.01)
    assert rules.lot_review_periods == 0  # base stock by default: S = s
    assert row["order_up_to"] == pytest.approx(row["reorder_point"])
    assert row["classic_safety_stock"] == pytest.approx(row["safety_stock"], rel=0.15)
    assert any("leans SAFETY_STOCK" in r for r in row["reasons"])


def test_lot_review_periods_put_that_many_reviews_of_demand_between_s_and_s_big() -> None:
    data = _data()
    rules = load_rules().model_copy(update={"lot_review_periods": 1.5})
    row = _rows(compute_policies(data, _paths(data), rules))[("fast", "web")]
    review_demand = 20.0 * rules.review_period_days
    assert row["order_up_to"] == pytest.approx(row["reorder_point"] + 1.5 * review_demand, rel=0.01)


def test_orders_are_rounded_to_moq_and_pack_and_follow_the_inventory_position() -> None:
    inventory = pd.DataFrame({"sku": ["fast", "fast", "slow"], "channel": ["web", "app", "web"],
                              "on_hand": [10_000.0, 5.0, 0.0], "on_order": [0.0, 3.0, 0.0]})
    data = _data(inventory)
    out = _rows(compute_policies(data, _paths(data), load_rules()))
    assert not out[("fast", "web")]["order_now"] and out[("fast", "web")]["order_qty"] == 0
    app = out[("fast", "app")]
    assert app["inventory_position"] == 8.0 and app["order_now"]
    assert app["order_qty"] == np.ceil(app["order_up_to"] - 8.0)
    slow = out[("slow", "web")]
    assert slow["order_qty"] >= 10 and slow["order_qty"] % 4 == 0


def test_jit_rows_use_mean_demand_over_actual_lead_time_plus_buffer() -> None:
    data = _data()
    rules = load_rules()
    out = compute_policies(data, _paths(data), rules)
    jit = out[out["policy"] == JIT]
    assert not jit.empty
    row = jit.to_dict(orient="records")[0]
    daily = RATES[row["sku"]]
    expected = daily * (7 + rules.review_period_days + rules.policies.jit.buffer_days)
    assert row["reorder_point"] == pytest.approx(expected, rel=0.03)
    assert not row["buffer_active"]


def test_seasonal_hybrid_buffers_only_when_the_window_is_within_reach() -> None:
    data = _data()
    rules = load_rules()
    paths = _paths(data)
    near = pd.DataFrame({"sku": ["steady"], "channel": ["web"],
                         "start": [data.end_date + pd.Timedelta(days=10)],
                         "peak": [data.end_date + pd.Timedelta(days=14)],
                         "end": [data.end_date + pd.Timedelta(days=20)]})
    far = near.assign(**{c: near[c] + pd.Timedelta(days=120) for c in ("start", "peak", "end")})
    row_near = _rows(compute_policies(data, paths, rules, spike_windows=near))[("steady", "web")]
    row_far = _rows(compute_policies(data, paths, rules, spike_windows=far))[("steady", "web")]
    assert row_near["policy"] == SEASONAL_HYBRID
    assert row_near["buffer_active"]
    assert not row_far["buffer_active"]
    # The buffer adds to the JIT stock, it never replaces it.
    assert row_near["reorder_point"] >= row_far["reorder_point"]


def test_paths_for_unknown_series_are_rejected() -> None:
    data = _data()
    paths = _paths(data)
    paths.keys = paths.keys.assign(sku=paths.keys["sku"].replace({"slow": "ghost"}))
    with pytest.raises(ValueError, match=r"series without sales history, e.g. \['ghost/app'"):
        compute_policies(data, paths, load_rules())


def test_pooling_independent_channels_saves_safety_stock() -> None:
    data = _data()
    rules = load_rules()
    paths = _paths(data)
    policies = compute_policies(data, paths, rules)
    pooled = pool_by_sku(data, paths, rules, policies)
    fast = pooled[pooled["sku"] == "fast"].to_dict(orient="records")[0]
    assert fast["n_channels"] == 2
    assert fast["pooling_saving"] > 0
    # Independent channels with a fixed lead time pool like sqrt(2): the pooled buffer is ~71% of the sum.
    assert fast["pooled_safety_stock"] / fast["channel_safety_stock"] == pytest.approx(2**-0.5, abs=0.08)


M5_TINY = SHARED_DATA / "m5-tiny"  # next to the repository, wherever it is cloned


@pytest.mark.skipif(not M5_TINY.is_dir(), reason="needs the m5-tiny development data")
def test_m5_slice_reorder_points_cover_realised_demand() -> None:
    """Accuracy guardrail on real Walmart series: the reorder point covers the next L + R days about as
    often as the class targets promise (one 14-day window, 100 series, SeasonalNaive paths)."""
    sales = import_m5(M5_TINY)["sales"]
    sales = sales[sales["sku"].isin(sorted(sales["sku"].unique())[::3])
                  & (sales["date"] > sales["date"].max() - pd.Timedelta(days=400))]
    data = build_dataset({"sales": sales})
    cutoff = data.end_date - pd.Timedelta(days=14)
    history = data.truncate(cutoff)
    # No suppliers in M5: a fixed 7-day lead time plus the 7-day review makes the 14 held-out days.
    rules = parse_rules({"lead_time": {"default_lead_time_days": 7, "fallback_cv": 0.0}})
    paths = SeasonalNaive().fit(history).sample_paths(14, 500, random_state=0)
    policies = compute_policies(history, paths, rules, cutoff)
    future = data.sales[data.sales["date"] > cutoff]
    actual = future.groupby(["sku", "channel"], as_index=False, observed=True)["units"].sum()
    merged = policies.merge(actual, on=["sku", "channel"])
    assert len(merged) == 100
    coverage = float((merged["units"] <= merged["reorder_point"]).mean())
    assert coverage >= merged["service_level"].mean() - 0.12
    assert (merged["reorder_point"] >= merged["expected_demand"] - 1e-9).mean() > 0.95
