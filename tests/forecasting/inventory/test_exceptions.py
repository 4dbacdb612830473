"""Exception detectors on hand-made SKU-channels with injected cases, and nothing on the clean ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.inventory.exceptions import (
    ExceptionThresholds,
    detect_exceptions,
    run_out_from_grid,
    run_out_from_paths,
)
from forecasting.inventory.stockouts import stockout_events

AS_OF = pd.Timestamp("2024-06-30")
DAILY = 10.0
LEAD = 7


def _policies() -> pd.DataFrame:
    rows = [  # sku, policy, on_hand, on_order, daily mean
        ("CLEAN_JIT", "jit", 150, 0, DAILY),
        ("CLEAN_SS", "safety_stock", 150, 0, DAILY),
        ("RUNOUT", "jit", 30, 0, DAILY),           # 30 units against ~70 over the 7-day lead time
        ("EXCESS", "jit", 1500, 0, DAILY),         # 150 days of cover
        ("PROMO_STOCK", "jit", 1500, 0, DAILY),    # same, but a campaign is ahead
        ("OVER_ORDERED", "jit", 500, 1000, DAILY),  # position 1,500 vs 900 = 90 days of demand
        ("JIT_3_OUTS", "jit", 150, 0, DAILY),      # 3 stockout events in the quarter
        ("SS_1_OUT", "safety_stock", 150, 0, DAILY),
        ("SS_SLOW", "safety_stock", 80, 0, 1.0),   # 1 unit a day, 80 on hand: 4.6 turns -> floor 6 trips
    ]
    frame = pd.DataFrame(rows, columns=["sku", "policy", "on_hand", "on_order", "daily_mean"])
    frame["channel"] = "web"
    frame["backorders"] = 0.0
    frame["lead_time_mean"] = float(LEAD)
    frame["reorder_point"] = frame["daily_mean"] * 14
    frame["order_up_to"] = frame["daily_mean"] * 14
    frame["stock_known"] = True
    return frame


def _sales(policies: pd.DataFrame) -> pd.DataFrame:
    days = pd.date_range(AS_OF - pd.Timedelta(days=399), AS_OF)
    parts = []
    for sku, daily in zip(policies["sku"], policies["daily_mean"], strict=True):
        part = pd.DataFrame({"sku": sku, "channel": "web", "date": days, "units": daily, "in_stock": 1})
        if sku == "JIT_3_OUTS":
            for start in ("2024-04-10", "2024-05-01", "2024-06-20"):
                hit = part["date"].between(pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=2))
                part.loc[hit, ["in_stock", "units"]] = [0, 0]
        if sku == "SS_1_OUT":
            hit = part["date"].between(pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-04"))
            part.loc[hit, ["in_stock", "units"]] = [0, 0]
        if sku == "CLEAN_JIT":  # an old stockout, before the quarter: not counted
            part.loc[part["date"] == pd.Timestamp("2024-01-15"), ["in_stock", "units"]] = [0, 0]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _paths(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(DAILY, size=(n, 400, 40)).astype(float)


@pytest.fixture(scope="module")
def found() -> pd.DataFrame:
    pol = _policies()
    values = _paths(len(pol))
    values[pol.index[pol["daily_mean"] == 1.0]] /= DAILY
    ip = (pol["on_hand"] + pol["on_order"]).to_numpy()
    prob = run_out_from_paths(values, np.full((len(pol), 400), LEAD), ip)
    promos = pd.DataFrame({"sku": ["PROMO_STOCK"], "channel": ["web"],
                           "start": [AS_OF + pd.Timedelta(days=20)], "end": [AS_OF + pd.Timedelta(days=30)]})
    return detect_exceptions(pol, AS_OF, run_out_probability=prob, sales=_sales(pol), promotions=promos,
                             thresholds=ExceptionThresholds(ss_turnover_floor=6.0))


def _kinds(found: pd.DataFrame, sku: str) -> list[str]:
    return sorted(found.loc[found["sku"] == sku, "kind"])


def test_clean_series_raise_nothing(found: pd.DataFrame) -> None:
    for sku in ("CLEAN_JIT", "CLEAN_SS", "PROMO_STOCK"):
        assert _kinds(found, sku) == [], found[found["sku"] == sku].to_dict("records")


def test_run_out_inside_the_lead_time(found: pd.DataFrame) -> None:
    row = found[(found["sku"] == "RUNOUT") & (found["kind"] == "stockout_risk")].iloc[0]
    assert row["figure"] > 0.99 and row["severity"] == "critical"
    assert "Order now" in row["action"] and "7 days" in row["message"]
    assert _kinds(found, "RUNOUT") == ["stockout_risk"]


def test_150_days_of_cover_is_excess(found: pd.DataFrame) -> None:
    row = found[(found["sku"] == "EXCESS") & (found["kind"] == "excess_stock")].iloc[0]
    assert row["figure"] == pytest.approx(150.0) and row["threshold"] == 90.0
    assert "150 days of cover" in row["message"]


def test_too_much_on_order(found: pd.DataFrame) -> None:
    row = found[found["sku"] == "OVER_ORDERED"].iloc[0]
    assert row["kind"] == "excess_on_order"
    assert row["figure"] == pytest.approx(1500 - 900)  # position - 90 days of demand
    assert _kinds(found, "OVER_ORDERED") == ["excess_on_order"]


def test_policy_health_from_realized_stockouts_and_turnover(found: pd.DataFrame) -> None:
    jit = found[found["sku"] == "JIT_3_OUTS"]
    assert list(jit["kind"]) == ["policy_health"] and jit["figure"].iloc[0] == 3
    ss = found[found["sku"] == "SS_1_OUT"]
    assert list(ss["kind"]) == ["policy_health"] and ss["severity"].iloc[0] == "critical"
    slow = found[(found["sku"] == "SS_SLOW") & (found["kind"] == "policy_health")]
    assert slow["figure"].iloc[0] == pytest.approx(365 / 80)
    assert "turns its stock 4.6 times" in slow["message"].iloc[0]


def test_stockout_events_count_runs_not_days() -> None:
    pol = _policies()
    events = stockout_events(_sales(pol), AS_OF - pd.Timedelta(days=90), AS_OF).set_index("sku")
    assert events.loc["JIT_3_OUTS", "stockout_events"] == 3
    assert events.loc["JIT_3_OUTS", "stockout_days"] == 9
    assert events.loc["SS_1_OUT", "stockout_events"] == 1
    assert events.loc["CLEAN_JIT", "stockout_events"] == 0


def test_the_grid_approximation_agrees_with_the_paths() -> None:
    pol = _policies().head(3)
    values = _paths(3, seed=1)
    review = 7
    d_lr = values[:, :, : LEAD + review].sum(axis=2)
    levels = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
    pol = pol.assign(ltd_levels=[levels] * 3, ltd_quantiles=[list(np.quantile(r, levels)) for r in d_lr],
                     review_demand=DAILY * review)
    for position in (55.0, 70.0, 80.0):
        ip = np.full(3, position)
        exact = run_out_from_paths(values, np.full((3, 400), LEAD), ip)
        approx = run_out_from_grid(pol, ip)
        np.testing.assert_allclose(approx, exact, atol=0.08)


@pytest.mark.parametrize("field", ["excess_cover_days", "run_out_probability", "ss_turnover_floor"])
@pytest.mark.parametrize("value", [0, -5, float("nan")])
def test_thresholds_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ExceptionThresholds(**{field: value})


def test_the_engines_policy_names_are_read_the_same() -> None:
    """The policy engine publishes JIT / SAFETY_STOCK / SEASONAL_HYBRID: the detectors see the same cases."""
    pol = _policies()
    upper = pol.assign(policy=pol["policy"].str.upper())
    ip = (pol["on_hand"] + pol["on_order"]).to_numpy()
    prob = run_out_from_paths(_paths(len(pol)), np.full((len(pol), 400), LEAD), ip)
    th = ExceptionThresholds(ss_turnover_floor=6.0)
    lower_found = detect_exceptions(pol, AS_OF, run_out_probability=prob, sales=_sales(pol), thresholds=th)
    upper_found = detect_exceptions(upper, AS_OF, run_out_probability=prob, sales=_sales(pol), thresholds=th)
    assert list(upper_found["kind"]) == list(lower_found["kind"])
    assert (upper_found["kind"] == "policy_health").sum() == 3


def test_grid_below_its_lowest_level_reads_the_tail() -> None:
    """A grid starting at the median must not cap the run-out chance at 50 %."""
    pol = _policies().head(1)
    values = _paths(1, seed=2)
    levels = [0.5, 0.75, 0.9, 0.95, 0.99]
    d_lr = values[:, :, : LEAD + 7].sum(axis=2)
    pol = pol.assign(ltd_levels=[levels], ltd_quantiles=[list(np.quantile(d_lr[0], levels))],
                     review_demand=DAILY * 7)
    for position in (30.0, 60.0):
        exact = run_out_from_paths(values, np.full((1, 400), LEAD), np.array([position]))
        approx = run_out_from_grid(pol, np.array([position]))
        assert approx[0] == pytest.approx(exact[0], abs=0.08)
    assert run_out_from_grid(pol, np.array([30.0]))[0] > 0.95
