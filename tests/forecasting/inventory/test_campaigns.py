"""Campaign what-if on a smooth series with known demand, and the bad inputs it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from features.schema import M5_QUANTILES, quantile_column
from forecasting.inventory.campaigns import Campaign, check_campaign, what_if

PLAN = pd.Timestamp("2024-06-30")
DAYS = pd.date_range(PLAN + pd.Timedelta(days=1), periods=28)
MEAN, SD = 20.0, 2.0  # a smooth series: CV 0.1


def _forecasts(skus: tuple[str, ...] = ("A",)) -> pd.DataFrame:
    parts = []
    for sku in skus:
        frame = pd.DataFrame({"sku": sku, "channel": "web", "date": DAYS, "mean": MEAN})
        for q in M5_QUANTILES:
            frame[quantile_column(q)] = stats.norm.ppf(q, MEAN, SD)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _policies(skus: tuple[str, ...] = ("A",), on_hand: float = 100.0) -> pd.DataFrame:
    return pd.DataFrame({"sku": list(skus), "channel": "web", "service_level": 0.95, "lead_time_mean": 5.0,
                         "lead_time_p90": 7.0, "on_hand": on_hand, "on_order": 0.0, "backorders": 0.0,
                         "moq": 50.0, "pack_size": 12.0})


def _campaign(**kw: object) -> Campaign:
    values: dict = {"skus": ("A",), "channels": None, "start": PLAN + pd.Timedelta(days=8),
                    "end": PLAN + pd.Timedelta(days=14), "uplift_base": 2.0, "uplift_best": 3.0, **kw}
    return Campaign(**values)


def test_plus_200_percent_raises_stock_needed_by_the_uplift_over_the_window() -> None:
    series, _ = what_if(_campaign(), _forecasts(), M5_QUANTILES, _policies(), PLAN, n_paths=4000)
    base = series[series["case"] == "base"].iloc[0]
    uplift_units = 2.0 * 7 * MEAN  # +200 % over 7 days of 20 units
    assert base["window_demand"] - base["window_demand_without"] == pytest.approx(uplift_units, rel=0.03)
    # The quantile moves by the uplift plus the wider spread of the lifted days: a few % above it.
    raised = base["stock_needed"] - base["stock_needed_without"]
    assert raised == pytest.approx(uplift_units, rel=0.10)
    best = series[series["case"] == "best"].iloc[0]
    assert best["stock_needed"] - base["stock_needed"] == pytest.approx(1.0 * 7 * MEAN, rel=0.10)
    # Stock needed covers the 14 days to the end at 95 %; known law: sum of normals.
    sd = np.sqrt(7 * SD**2 + 7 * (3 * SD) ** 2)
    assert base["stock_needed"] == pytest.approx(7 * MEAN + 7 * 3 * MEAN + 1.645 * sd, rel=0.03)


def test_order_quantity_order_by_and_stop_pushing_level() -> None:
    series, orders = what_if(_campaign(), _forecasts(), M5_QUANTILES, _policies(on_hand=100.0), PLAN)
    base = series[series["case"] == "base"].iloc[0]
    order = orders[orders["case"] == "base"].iloc[0]
    short = base["stock_needed"] - 100.0
    assert order["order_qty"] >= short and order["order_qty"] % 12 == 0 and order["order_qty"] - 12 < short
    assert order["order_by"] == PLAN + pd.Timedelta(days=8 - 7) and not order["late"]  # start - p90 lead
    # Stop pushing below the base case's 95 % demand over one lead time (5 days at 3 x 20 a day).
    assert base["stop_pushing_level"] == pytest.approx(5 * 3 * MEAN + 1.645 * np.sqrt(5) * 3 * SD, rel=0.03)
    late = what_if(_campaign(start=PLAN + pd.Timedelta(days=3)), _forecasts(), M5_QUANTILES, _policies(),
                   PLAN)[1]
    assert late["late"].all() and (late["order_by"] == PLAN + pd.Timedelta(days=1)).all()


@pytest.mark.parametrize(("change", "field"), [
    ({"end": PLAN + pd.Timedelta(days=5)}, "'end'"),
    ({"uplift_base": -1.5}, "uplift_base"),
    ({"uplift_base": 50.0}, "uplift_base"),
    ({"uplift_best": 1.0}, "uplift_best"),
    ({"start": PLAN - pd.Timedelta(days=3)}, "'start'"),
    ({"end": PLAN + pd.Timedelta(days=60)}, "last forecast day"),
    ({"uplift_base": float("nan")}, "uplift_base"),
])
def test_bad_campaigns_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        check_campaign(_campaign(**change), PLAN, DAYS[-1])
