"""Supplier lead-time audit: exact figures on a hand-made receipts table, fallbacks and distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import Dataset
from forecasting.inventory.leadtime import LeadTimeConfig, LeadTimeDistribution, audit_lead_times


def _dataset(receipts: pd.DataFrame | None) -> Dataset:
    dates = pd.date_range("2025-01-01", "2025-12-31")
    sales = pd.DataFrame({"date": dates, "sku": "s1", "channel": "web", "units": 1.0, "censored": False})
    skus = pd.DataFrame({"sku": ["s1", "s2", "s3"], "unit_cost": 1.0, "unit_price": 2.0,
                         "supplier": ["ACME", "SLOW", None]})
    suppliers = pd.DataFrame({"supplier": ["ACME", "SLOW"], "promised_lead_time_days": [4.0, 10.0]})
    return Dataset(sales=sales, skus=skus, suppliers=suppliers, receipts=receipts)


def _receipts() -> pd.DataFrame:
    # Four ACME orders: 4, 4, 6 and 10 days against a promise of 4 days.
    ordered = pd.to_datetime(["2025-12-01", "2025-12-05", "2025-12-10", "2025-12-15"])
    actual = [4, 4, 6, 10]
    return pd.DataFrame({"supplier": "ACME", "ordered_on": ordered,
                         "received_on": ordered + pd.to_timedelta(actual, unit="D"), "sku": "s1"})


def test_audit_exact_mean_on_time_rate_and_bias_without_recency_decay() -> None:
    # A huge half-life makes every receipt weigh the same, so the figures are the plain ones.
    audit = audit_lead_times(_dataset(_receipts()), "2025-12-31", LeadTimeConfig(half_life_days=1e9))
    row = audit.suppliers.set_index("supplier").loc["ACME"]
    assert row["n_receipts"] == 4
    assert row["mean_days"] == pytest.approx(6.0)
    assert row["on_time_rate"] == pytest.approx(0.5)
    assert row["bias_days"] == pytest.approx(2.0)
    assert row["p90_days"] == 10
    assert row["cv"] == pytest.approx(np.std([4, 4, 6, 10]) / 6.0)
    assert row["reliability"] == "unreliable"  # on time only half the time
    assert not row["fallback"]


def test_recency_weights_favour_recent_receipts() -> None:
    audit = audit_lead_times(_dataset(_receipts()), "2025-12-31", LeadTimeConfig(half_life_days=3))
    # The latest receipt (10 days) dominates, so the weighted mean sits above the plain mean of 6.
    assert audit.suppliers.set_index("supplier")["mean_days"]["ACME"] > 7.0


def test_promised_on_column_overrides_supplier_promise() -> None:
    rec = _receipts().assign(promised_on=lambda r: r["ordered_on"] + pd.Timedelta(days=10))
    audit = audit_lead_times(_dataset(rec), "2025-12-31", LeadTimeConfig(half_life_days=1e9))
    row = audit.suppliers.set_index("supplier").loc["ACME"]
    assert row["on_time_rate"] == pytest.approx(1.0)
    assert row["bias_days"] == pytest.approx(-4.0)


def test_supplier_without_receipts_falls_back_to_promise_with_assumed_cv() -> None:
    audit = audit_lead_times(_dataset(_receipts()), "2025-12-31", LeadTimeConfig(fallback_cv=0.3))
    row = audit.suppliers.set_index("supplier").loc["SLOW"]
    assert bool(row["fallback"])
    assert row["reliability"] == "unknown"
    dist = audit.for_sku("s2")
    assert dist.source == "promised"
    assert dist.mean == pytest.approx(10.0, abs=0.2)
    assert dist.std / dist.mean == pytest.approx(0.3, abs=0.03)


def test_sku_without_supplier_gets_flagged_default() -> None:
    audit = audit_lead_times(_dataset(None), "2025-12-31", LeadTimeConfig(default_lead_time_days=21))
    dist = audit.for_sku("s3")
    assert dist.source == "default"
    assert dist.mean == pytest.approx(21.0, abs=0.3)


def test_sku_distribution_needs_enough_receipts() -> None:
    data = _dataset(_receipts())
    few = audit_lead_times(data, config=LeadTimeConfig(min_receipts_per_sku=5))
    assert few.for_sku("s1").source == "supplier"
    own = audit_lead_times(data, config=LeadTimeConfig(min_receipts_per_sku=4))
    assert own.for_sku("s1").source == "sku"
    assert list(own.skus["sku"]) == ["s1"]


def test_receipts_after_as_of_are_ignored() -> None:
    audit = audit_lead_times(_dataset(_receipts()), "2025-12-12", LeadTimeConfig(half_life_days=1e9))
    assert audit.suppliers.set_index("supplier").loc["ACME", "n_receipts"] == 2


def test_bias_trend_is_positive_when_supplier_slips() -> None:
    ordered = pd.date_range("2025-01-01", "2025-12-01", freq="7D")
    delay = np.linspace(0, 8, len(ordered)).round()  # bias grows about 8 days over the year
    rec = pd.DataFrame({"supplier": "ACME", "ordered_on": ordered,
                        "received_on": ordered + pd.to_timedelta(4 + delay, unit="D")})
    audit = audit_lead_times(_dataset(rec), "2025-12-31", LeadTimeConfig(trend_quarters=4))
    slope = audit.suppliers.set_index("supplier").loc["ACME", "bias_trend_per_quarter"]
    assert slope == pytest.approx(2.0, abs=0.5)


def test_empirical_distribution_quantile_and_sampling() -> None:
    dist = LeadTimeDistribution.from_samples(np.array([3, 3, 5, 9]))
    assert list(dist.days) == [3, 5, 9]
    assert dist.weights == pytest.approx([0.5, 0.25, 0.25])
    assert dist.quantile(0.5) == 3
    assert dist.quantile(0.9) == 9
    draws = dist.sample(np.random.default_rng(0), 4000)
    assert set(np.unique(draws)) <= {3, 5, 9}
    assert (draws == 3).mean() == pytest.approx(0.5, abs=0.03)


def test_plans_follow_a_supplier_slip_and_the_reasons_say_so() -> None:
    from features.synthetic import generate_catalogue
    from features.validation import build_dataset
    from forecasting.inventory.leadtime import LeadTimeConfig, audit_lead_times
    from forecasting.inventory.policy import compute_policies
    from forecasting.inventory.rules import load_rules
    from models.baselines import SeasonalNaive

    catalogue = generate_catalogue(60, 2, 500, 7)
    data = build_dataset(catalogue.tables)
    truth = catalogue.truth.suppliers.set_index("supplier")
    slipped = truth[truth["slippage_days"] > 0].index
    follow = audit_lead_times(data).suppliers.set_index("supplier")
    blind = audit_lead_times(data, config=LeadTimeConfig(follow_slippage=False))
    blind = blind.suppliers.set_index("supplier")
    assert set(follow.index[follow["slipped"]]) == set(slipped)
    for supplier in slipped:
        now = truth.loc[supplier, "lead_time_mean"] + truth.loc[supplier, "slippage_days"]
        # The change-point window plans near today's lead time; the half-life average lags behind.
        assert abs(follow.loc[supplier, "mean_days"] - now) < abs(blind.loc[supplier, "mean_days"] - now)
        assert abs(follow.loc[supplier, "slip_from_days"] - truth.loc[supplier, "lead_time_mean"]) < 2.0
    model = SeasonalNaive().fit(data)
    policies = compute_policies(data, model.sample_paths(28, 100, random_state=0), load_rules())
    own = policies[policies["supplier"].isin(slipped)]
    notes = own["reasons"].map(lambda rs: [r for r in rs if "slipped from" in r])
    assert notes.map(len).eq(1).all()
    first = own.iloc[0]
    assert notes.iloc[0][0].startswith(f"planned on {first['lead_time_mean']:.1f} days: {first['supplier']}")
