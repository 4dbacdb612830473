"""Segmentation known answers: ABC cut-offs, XYZ, Syntetos-Boylan pattern, censored days, new flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.dataset import Dataset
from forecasting.inventory.leadtime import audit_lead_times
from forecasting.inventory.segmentation import SegmentationConfig, abc_classes, segment

DAYS = pd.date_range("2025-01-06", periods=364)  # 52 whole weeks, Monday to Sunday


def _series(sku: str, units: np.ndarray, channel: str = "web", censored: np.ndarray | None = None,
            dates: pd.DatetimeIndex = DAYS) -> pd.DataFrame:
    cens = np.zeros(len(units), dtype=bool) if censored is None else censored
    return pd.DataFrame({"date": dates, "sku": sku, "channel": channel, "units": units.astype(float),
                         "censored": cens})


def _weekly(pattern: list[float]) -> np.ndarray:
    """Daily units whose weekly totals cycle through ``pattern`` (all on the first day of the week)."""
    weeks = np.resize(np.asarray(pattern, dtype=float), 52)
    daily = np.zeros((52, 7))
    daily[:, 0] = weeks
    return daily.ravel()


def test_abc_cutoffs_known_answer() -> None:
    classes = abc_classes(np.array([3.0, 50.0, 5.0, 30.0, 2.0, 10.0, 0.0]), (0.8, 0.95))
    # Shares 50, 30 | 10, 5 | 3, 2 and zero: the item crossing 80% is still A.
    assert list(classes) == ["C", "A", "B", "A", "C", "B", "C"]


def test_xyz_and_pattern_on_constructed_series() -> None:
    smooth = np.full(364, 2.0)                     # weekly CV 0: X, smooth
    erratic = _weekly([1.0, 30.0])                 # every week, sizes vary a lot: erratic, Z
    intermittent = _weekly([10.0, 0.0, 0.0])       # one week in three, same size: intermittent
    lumpy = _weekly([1.0, 0.0, 0.0, 40.0, 0.0])    # rare and varying: lumpy
    y_class = _weekly([10.0, 20.0])                # weekly CV 1/3 ... use below for X/Y boundary
    sales = pd.concat([_series("smooth", smooth), _series("erratic", erratic),
                       _series("intermittent", intermittent), _series("lumpy", lumpy),
                       _series("alt", y_class)], ignore_index=True)
    seg = segment(Dataset(sales=sales)).set_index("sku")
    assert seg.loc["smooth", "xyz"] == "X" and seg.loc["smooth", "pattern"] == "smooth"
    assert seg.loc["erratic", "pattern"] == "erratic" and seg.loc["erratic", "xyz"] == "Y"
    assert seg.loc["intermittent", "pattern"] == "intermittent"
    assert seg.loc["intermittent", "adi"] == pytest.approx(52 / 18)
    assert seg.loc["lumpy", "pattern"] == "lumpy" and seg.loc["lumpy", "xyz"] == "Z"
    assert seg.loc["alt", "weekly_cv"] == pytest.approx(5 / 15)
    assert seg.loc["alt", "xyz"] == "X"
    cfg = SegmentationConfig(xyz_cutoffs=(0.2, 1.0))
    assert segment(Dataset(sales=sales), config=cfg).set_index("sku").loc["alt", "xyz"] == "Y"


def test_censored_days_are_not_demand() -> None:
    units = np.full(364, 4.0)
    censored = np.zeros(364, dtype=bool)
    censored[::3] = True
    units[censored] = 0.0  # stockout days record zero sales
    sales = _series("s", units, censored=censored)
    row = segment(Dataset(sales=sales)).iloc[0]
    # The zeros of stockout days are dropped and weeks rescaled, so demand reads steady.
    assert row["weekly_cv"] == pytest.approx(0.0, abs=1e-9)
    assert row["pattern"] == "smooth"
    assert row["weekly_mean"] == pytest.approx(28.0)


def test_revenue_uses_sales_price_then_unit_price_then_units() -> None:
    sales = pd.concat([_series("a", np.full(364, 1.0)), _series("b", np.full(364, 1.0)),
                       _series("c", np.full(364, 1.0))], ignore_index=True)
    sales["price"] = np.where(sales["sku"] == "a", 10.0, np.nan)
    skus = pd.DataFrame({"sku": ["a", "b"], "unit_cost": 1.0, "unit_price": [99.0, 5.0]})
    seg = segment(Dataset(sales=sales, skus=skus)).set_index("sku")
    assert seg.loc["a", "revenue"] == pytest.approx(3640.0)
    assert seg.loc["b", "revenue"] == pytest.approx(1820.0)
    assert seg.loc["c", "revenue"] == pytest.approx(364.0)


def test_new_flag_and_sku_level_sums_channels() -> None:
    late = pd.date_range(DAYS[-30], DAYS[-1])
    sales = pd.concat([_series("old", np.full(364, 1.0), "web"), _series("old", np.full(364, 3.0), "app"),
                       _series("new", np.full(30, 1.0), dates=late)], ignore_index=True)
    seg = segment(Dataset(sales=sales)).set_index(["sku", "channel"])
    assert bool(seg.loc[("new", "web"), "is_new"]) and seg.loc[("new", "web"), "history_days"] == 30
    assert not bool(seg.loc[("old", "web"), "is_new"])
    by_sku = segment(Dataset(sales=sales), level="sku").set_index("sku")
    assert by_sku.loc["old", "weekly_mean"] == pytest.approx(28.0)
    assert by_sku.loc["old", "channel"] == "*"


def test_lead_time_columns_come_from_the_audit() -> None:
    sales = _series("s", np.full(364, 1.0))
    skus = pd.DataFrame({"sku": ["s"], "unit_cost": 1.0, "unit_price": 2.0, "supplier": ["FAR"]})
    suppliers = pd.DataFrame({"supplier": ["FAR"], "promised_lead_time_days": [40.0]})
    data = Dataset(sales=sales, skus=skus, suppliers=suppliers)
    row = segment(data, audit=audit_lead_times(data)).iloc[0]
    assert row["lead_time_length"] == "long"
    assert bool(row["lead_time_fallback"])
    assert row["lead_time_mean"] == pytest.approx(40.0, abs=0.5)


@pytest.mark.parametrize("cutoffs", [(0.95, 0.8), (0.8, 0.8), (0.8, 1.2), (0.0, 0.5)])
def test_bad_abc_cutoffs_are_rejected(cutoffs: tuple[float, float]) -> None:
    with pytest.raises(ValidationError, match="'abc_cutoffs' must be two increasing cut-offs"):
        SegmentationConfig(abc_cutoffs=cutoffs)


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="'level' must be 'sku_channel' or 'sku'"):
        segment(Dataset(sales=_series("s", np.ones(364))), level="store")
