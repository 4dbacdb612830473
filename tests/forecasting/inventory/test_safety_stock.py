"""Safety stock and reorder points: known answers, classic formula, monotonicity, order rounding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from forecasting.inventory.leadtime import LeadTimeDistribution
from forecasting.inventory.safety_stock import (
    compute_quantities,
    cycle_shortage,
    draw_lead_times,
    expected_excess,
    extend_paths,
    fill_rate_point,
    order_decision,
    path_quantile,
    protection_totals,
    round_order,
)


def _quantities(values: np.ndarray, lead: np.ndarray, level: float, review: int = 0,
                buffered: bool = True, buffer_days: float = 0.0, lead_mean: float = 0.0,
                lead_std: float = 0.0):
    n = values.shape[0]
    return compute_quantities(values, lead, review, np.full(n, level), np.full(n, buffered), buffer_days,
                              np.full(n, lead_mean), np.full(n, lead_std))


@pytest.mark.parametrize(("level", "expected"), [(0.8, 17), (0.9, 19)])
def test_poisson_paths_with_fixed_lead_time_give_the_poisson_quantile(level: float, expected: int) -> None:
    rng = np.random.default_rng(1)
    values = rng.poisson(2.0, size=(1, 40_000, 10)).astype(float)
    lead = np.full((1, 40_000), 7)
    out = _quantities(values, lead, level).iloc[0]
    assert out["reorder_point"] == stats.poisson.ppf(level, 14) == expected
    assert out["expected_demand"] == pytest.approx(14.0, rel=0.01)
    assert out["safety_stock"] == pytest.approx(expected - 14.0, abs=0.1)


def test_normal_demand_and_normal_lead_time_match_the_classic_formula() -> None:
    rng = np.random.default_rng(2)
    n_paths = 20_000
    values = np.clip(rng.normal(20.0, 5.0, size=(1, n_paths, 20)), 0, None)
    dist = LeadTimeDistribution.from_samples(rng.normal(10.0, 2.0, 50_000))
    lead = draw_lead_times([dist], rng.random((1, n_paths)))
    out = _quantities(values, lead, 0.95, lead_mean=dist.mean, lead_std=dist.std).iloc[0]
    classic_rop = out["classic_reorder_point"]
    expected_classic = 20.0 * dist.mean + stats.norm.ppf(0.95) * np.sqrt(dist.mean * 25 + 400 * dist.std**2)
    assert classic_rop == pytest.approx(expected_classic, rel=0.01)
    # Monte Carlo error of the 95% quantile here is under one unit; allow a few.
    assert out["reorder_point"] == pytest.approx(classic_rop, abs=3.0)
    assert out["safety_stock"] == pytest.approx(out["classic_safety_stock"], abs=3.0)


def test_jit_reorder_point_is_mean_demand_over_actual_lead_time_plus_buffer_days() -> None:
    values = np.full((1, 100, 30), 3.0)
    lead = np.full((1, 100), 9)
    out = _quantities(values, lead, 0.9, review=7, buffered=False, buffer_days=2.0, lead_mean=9.0).iloc[0]
    assert out["reorder_point"] == pytest.approx(3.0 * (9 + 7 + 2))
    assert out["order_up_to"] == pytest.approx(3.0 * (9 + 7 + 2) + 3.0 * 7)
    assert out["fill_rate"] == pytest.approx(1.0)


def test_review_period_adds_to_protection_interval() -> None:
    values = np.ones((1, 2, 40))
    d_lr, d_r = protection_totals(values, np.array([[5, 10]]), 7)
    assert d_lr.tolist() == [[12.0, 17.0]]
    assert d_r.tolist() == [[7.0, 7.0]]


def test_extend_paths_repeats_the_last_week() -> None:
    week = np.arange(1.0, 8.0)
    values = np.concatenate([np.zeros(7), week])[None, None, :]
    extended = extend_paths(values, 24)
    assert extended.shape == (1, 1, 24)
    assert extended[0, 0, 14:21].tolist() == week.tolist()
    assert extended[0, 0, 21:].tolist() == week[:3].tolist()
    assert extend_paths(values, 10) is values


def test_fill_rate_falls_when_stock_is_short() -> None:
    rng = np.random.default_rng(3)
    values = rng.poisson(5.0, size=(1, 5000, 20)).astype(float)
    lead = np.full((1, 5000), 5)
    high = _quantities(values, lead, 0.99, review=7).iloc[0]["fill_rate"]
    low = _quantities(values, lead, 0.6, review=7).iloc[0]["fill_rate"]
    assert 0.0 <= low < high <= 1.0


@settings(max_examples=25, deadline=None)
@given(
    lo=st.floats(0.55, 0.98), step=st.floats(0.0, 0.4), base=st.integers(1, 10), extra=st.integers(0, 10),
    delay_prob=st.floats(0.0, 1.0), review=st.integers(0, 14),
)
def test_reorder_point_never_falls_with_more_service_or_longer_lead_times(
    lo: float, step: float, base: int, extra: int, delay_prob: float, review: int
) -> None:
    rng = np.random.default_rng(4)
    values = rng.poisson(3.0, size=(1, 400, 20)).astype(float)
    uniforms = rng.random((1, 400))
    short = LeadTimeDistribution(np.array([base]), np.array([1.0]), "sku")
    # The same lead time with a chance of an extra delay: stochastically longer and more variable.
    late = LeadTimeDistribution(np.array([base, base + extra]) if extra else np.array([base]),
                                np.array([1 - delay_prob, delay_prob]) if extra else np.array([1.0]), "sku")
    hi = min(lo + step, 0.99)
    lead_short = draw_lead_times([short], uniforms)
    lead_late = draw_lead_times([late], uniforms)
    rop = lambda lead, level: _quantities(values, lead, level, review=review)["reorder_point"].iloc[0]  # noqa: E731
    assert rop(lead_short, hi) >= rop(lead_short, lo)
    assert rop(lead_late, lo) >= rop(lead_short, lo)
    assert rop(lead_late, hi) >= rop(lead_short, hi)


def test_path_quantile_is_the_inverted_cdf() -> None:
    totals = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 0.0, 5.0, 5.0]])
    assert path_quantile(totals, np.array([0.5, 0.75])).tolist() == [2.0, 5.0]
    assert path_quantile(totals, np.array([0.51, 0.76])).tolist() == [3.0, 10.0]


def test_round_order_respects_moq_and_pack_size() -> None:
    out = round_order(np.array([0.0, -3.0, 1.0, 7.0, 12.0, 13.0, 4.0]),
                      moq=np.array([10, 10, 10, 0, 0, 0, np.nan]),
                      pack_size=np.array([6, 6, 6, 6, 6, 6, np.nan]))
    assert out.tolist() == [0.0, 0.0, 12.0, 12.0, 12.0, 18.0, 4.0]


def test_order_decision_orders_only_at_or_below_reorder_point() -> None:
    order_now, qty = order_decision(np.array([10.0, 10.0, 0.0]), np.array([30.0, 30.0, 0.0]),
                                    np.array([11.0, 4.0, 0.0]), moq=5.0, pack_size=5.0)
    assert order_now.tolist() == [False, True, False]
    assert qty.tolist() == [0.0, 30.0, 0.0]


def test_draw_lead_times_follows_each_series_distribution() -> None:
    a = LeadTimeDistribution(np.array([2, 4]), np.array([0.25, 0.75]), "supplier")
    b = LeadTimeDistribution(np.array([20]), np.array([1.0]), "default")
    draws = draw_lead_times([a, b, a], np.random.default_rng(5).random((3, 8000)))
    assert set(np.unique(draws[0])) == {2, 4}
    assert (draws[0] == 2).mean() == pytest.approx(0.25, abs=0.02)
    assert (draws[1] == 20).all()


def test_expected_excess_matches_the_definition() -> None:
    values = np.array([[0.0, 2.0, 4.0, 10.0], [1.0, 1.0, 1.0, 1.0]])
    levels = np.array([[-1.0, 2.0, 3.0, 20.0], [0.0, 1.0, 0.5, 5.0]])
    expected = np.array([[np.maximum(values[i] - c, 0).mean() for c in levels[i]] for i in range(2)])
    assert expected_excess(values, levels) == pytest.approx(expected)


def test_fill_rate_point_reaches_its_target_and_no_lower_point_does() -> None:
    rng = np.random.default_rng(6)
    values = rng.poisson(4.0, size=(2, 3000, 20)).astype(float)
    lead = np.full((2, 3000), 6)
    d_lr, d_r = protection_totals(values, lead, 7)
    review = d_r.mean(axis=1)
    targets = np.array([0.9, 0.99])
    points = fill_rate_point(d_lr, d_lr - d_r, review, targets)
    for i in range(2):
        levels = np.array([[points[i], points[i] - 1]])
        fill_at = 1 - cycle_shortage(d_lr[i:i + 1], (d_lr - d_r)[i:i + 1], levels)[0] / review[i]
        assert fill_at[0] >= targets[i]
        assert fill_at[1] < targets[i]
    assert points[1] > points[0]
