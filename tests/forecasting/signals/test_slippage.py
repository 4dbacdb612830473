"""Supplier slippage on constructed receipts and on the synthetic catalogue's ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.synthetic.generator import generate_catalogue
from forecasting.signals.slippage import detect_slippage, slippage_table

END = pd.Timestamp("2026-06-30")


def _receipts(
    supplier: str, rng: np.random.Generator, before: tuple[float, float], after: tuple[float, float],
    n: int = 120, sku: str | None = None,
) -> pd.DataFrame:
    received = END - pd.to_timedelta(np.sort(rng.integers(0, 365, n))[::-1], unit="D")
    recent = received > END - pd.Timedelta(days=91)
    mean = np.where(recent, after[0], before[0])
    sd = np.where(recent, after[1], before[1])
    days = np.maximum(np.round(rng.normal(mean, sd)), 1)
    frame = pd.DataFrame({"supplier": supplier, "ordered_on": received - pd.to_timedelta(days, unit="D"),
                          "received_on": received})
    if sku is not None:
        frame["sku"] = sku
    return frame


@pytest.fixture
def receipts() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    return pd.concat([
        _receipts("STEADY", rng, (4.0, 0.7), (4.0, 0.7)),
        _receipts("LATE", rng, (4.0, 0.7), (9.0, 0.7)),
        _receipts("ERRATIC", rng, (10.0, 1.0), (10.5, 4.0)),
    ], ignore_index=True)


def test_later_and_more_variable_suppliers_are_found_and_a_steady_one_is_not(receipts):
    table = slippage_table(receipts).set_index("supplier")
    assert table.loc["LATE", "later"] and not table.loc["LATE", "more_variable"]
    assert table.loc["ERRATIC", "more_variable"] and not table.loc["ERRATIC", "later"]
    assert not table.loc["STEADY", ["later", "more_variable"]].any()
    assert table.loc["LATE", "recent_mean_days"] == pytest.approx(9.0, abs=0.6)


def test_alert_lists_only_the_jit_series_at_risk(receipts):
    skus = pd.DataFrame({"sku": ["A1", "A2", "B1"], "supplier": ["LATE", "LATE", "STEADY"]})
    segments = pd.DataFrame({"sku": ["A1", "A1", "A2", "B1"], "channel": ["web", "shop", "web", "web"],
                             "policy": ["JIT", "SAFETY_STOCK", "JIT", "JIT"]})
    alerts = detect_slippage(receipts, skus=skus, segments=segments)
    late = next(a for a in alerts if a["payload"]["supplier"] == "LATE")
    assert late["type"] == "supplier_slippage" and late["severity"] == "critical"
    assert sorted(map(tuple, late["payload"]["at_risk"])) == [("A1", "web"), ("A2", "web")]
    assert late["dedup_key"] == "supplier_slippage|LATE|2026-Q2"
    assert "LATE delivers later" in late["payload"]["message"]
    erratic = next(a for a in alerts if a["payload"]["supplier"] == "ERRATIC")
    assert erratic["severity"] == "warning" and erratic["payload"]["at_risk"] == []
    assert {a["payload"]["supplier"] for a in alerts} == {"LATE", "ERRATIC"}


def test_suppliers_with_too_few_receipts_are_not_judged():
    rng = np.random.default_rng(22)
    few = _receipts("FEW", rng, (4.0, 0.5), (12.0, 0.5), n=12)
    # Twelve receipts cannot give eight on each side of the cut.
    assert slippage_table(few, min_receipts=8).empty
    assert len(slippage_table(few, min_receipts=3)) == 1


def test_synthetic_slipping_suppliers_are_found_without_false_alarms():
    cat = generate_catalogue(200, 2, 540, 5)
    truth = cat.truth.suppliers
    table = slippage_table(cat.tables["receipts"])
    flagged = set(table.loc[table["later"] | table["more_variable"], "supplier"])
    slipping = set(truth.loc[truth["slippage_days"] > 0, "supplier"]) & set(table["supplier"])
    assert slipping and slipping <= flagged
    assert flagged <= slipping


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("recent_days", 3, "'recent_days' of detect_slippage must be a whole number of days >= 7"),
        ("min_ratio", 0.9, "'min_ratio' of detect_slippage must be a ratio >= 1"),
        ("alpha", 0, "'alpha' of detect_slippage must be a significance level in \\(0, 1\\)"),
    ],
)
def test_bad_parameters_are_named(receipts, param, value, match):
    with pytest.raises(ValueError, match=match):
        slippage_table(receipts, **{param: value})


def test_receipts_without_dates_are_rejected():
    with pytest.raises(ValueError, match="Table 'receipts' lacks the column\\(s\\) \\['received_on'\\]"):
        slippage_table(pd.DataFrame({"supplier": ["S"], "ordered_on": [END]}))
