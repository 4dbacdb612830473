"""Known-answer tests of the loss primitives and the forecast metrics (values computed by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation.metrics import evaluate, series_scales, series_spl, total_coverage
from models.losses import (
    interval_coverage,
    interval_hits,
    m5_scale,
    pinball_loss,
    safe_scale,
    scaled_pinball,
    upper_coverage,
)


def _frame(sku: str, start: str, units: list[float], **cols: list) -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(units), freq="D")
    return pd.DataFrame({"sku": sku, "channel": "web", "date": dates, "units": units, **cols})


def test_pinball_loss_known_values() -> None:
    # y=3, p=1 at q=0.9: under-forecast by 2 costs 0.9*2; y=0, p=2 at q=0.9: over by 2 costs 0.1*2.
    loss = pinball_loss(np.array([3.0, 0.0]), np.array([[1.0, 1.0], [2.0, 2.0]]), [0.5, 0.9])
    np.testing.assert_allclose(loss, [[1.0, 1.8], [1.0, 0.2]])


def test_pinball_loss_rejects_misaligned_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape \(len\(actual\), len\(quantiles\)\)"):
        pinball_loss(np.zeros(3), np.zeros((2, 1)), [0.5])


def test_m5_scale_starts_at_first_sale_and_skips_missing() -> None:
    # Leading zeros are dropped: diffs of [2, 4, 1] are 2 and 3 -> 2.5.
    assert m5_scale(np.array([0, 0, 2, 4, 1.0])) == pytest.approx(2.5)
    # NaN (stockout) days drop the differences touching them: [2, nan, 4, 5] -> only |5-4| = 1.
    assert m5_scale(np.array([2, np.nan, 4, 5.0])) == pytest.approx(1.0)
    assert m5_scale(np.array([0, 0, 2, 4, 1.0]), squared=True) == pytest.approx((4 + 9) / 2)


@pytest.mark.parametrize("history", [[0.0, 0.0], [5.0], [3.0, 3.0, 3.0]])
def test_zero_scale_falls_back_to_level_then_one(history: list[float]) -> None:
    scale = m5_scale(np.array(history))
    assert np.isnan(scale)
    level = np.mean(history)
    assert safe_scale(np.array([scale]), np.array([level]))[0] == (level if level > 0 else 1.0)


def test_scaled_pinball_requires_positive_scales() -> None:
    with pytest.raises(ValueError, match="safe_scale"):
        scaled_pinball(np.zeros(1), np.zeros((1, 1)), [0.5], np.array([0.0]))
    out = scaled_pinball(np.array([4.0]), np.array([[2.0]]), [0.5], np.array([2.0]))
    assert out[0, 0] == pytest.approx(0.5)


def test_coverage_helpers_closed_intervals() -> None:
    y = np.array([0.0, 1.0, 5.0, 2.0])
    assert interval_coverage(y, np.zeros(4), np.full(4, 2.0)) == pytest.approx(0.75)
    assert upper_coverage(np.array([1.0, np.nan, 3.0]), np.array([1.0, 0.0, 2.0])) == pytest.approx(0.5)
    assert total_coverage(np.array([10.0, 5.0]), np.array([9.0, 6.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="must align"):
        total_coverage(np.zeros(2), np.zeros(3))


def test_open_and_closed_intervals_bracket_nominal_for_calibrated_counts() -> None:
    # Poisson(0.8) demand forecast with its true quantiles: zeros tie with the zero lower bound, so the
    # closed 50% interval covers P(y <= 1) = 0.81; the open one P(0 < y < 1) = 0 is below nominal.
    rng = np.random.default_rng(0)
    y = rng.poisson(0.8, size=20_000).astype(float)
    lower, upper = np.zeros_like(y), np.ones_like(y)  # Poisson(0.8): 25% quantile 0, 75% quantile 1
    closed = interval_hits(y, lower, upper).mean()
    opened = interval_hits(y, lower, upper, closed=False).mean()
    assert opened < 0.5 < closed
    assert closed == pytest.approx(np.exp(-0.8) * 1.8, abs=0.01)
    # Continuous demand: the two agree.
    z = rng.normal(size=1000)
    np.testing.assert_array_equal(interval_hits(z, np.full(1000, -0.5), np.full(1000, 0.5)),
                                  interval_hits(z, np.full(1000, -0.5), np.full(1000, 0.5), closed=False))


def _two_series_case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    history = pd.concat(
        [
            _frame("A", "2024-01-01", [0, 2, 4, 2], price=[1.0, 1.0, 1.0, 1.0]),  # scale 2, revenue 8
            _frame("B", "2024-01-01", [1, 2, 3, 4], price=[3.0, 3.0, 3.0, 3.0]),  # scale 1, revenue 30
        ]
    )
    actuals = pd.concat(
        [
            _frame("A", "2024-01-05", [4, 2], censored=[False, False]),
            _frame("B", "2024-01-05", [5, 9], censored=[False, True]),  # day 2 is a stockout
        ]
    )
    forecast = actuals[["sku", "channel", "date"]].copy()
    forecast["mean"] = [2.0, 2.0, 5.0, 5.0]
    forecast["0.5"] = [2.0, 2.0, 5.0, 5.0]
    return forecast, actuals, history


def test_evaluate_known_answer_wspl_rmsse_bias() -> None:
    forecast, actuals, history = _two_series_case()
    out = evaluate(forecast, actuals, history, quantiles=[0.5])
    # A: pinball at 0.5 = [1, 0] / scale 2 -> SPL 0.25; B: censored day dropped -> [0] -> SPL 0.
    # Revenue weights 8/38 and 30/38.
    assert out.loc[0, "wspl"] == pytest.approx(0.25 * 8 / 38)
    assert out.loc[0, "mean_spl"] == pytest.approx(0.125)
    # RMSSE A: sqrt(mean([4, 0]) / scale2), scale2 = mean([4, 4]) = 4 -> sqrt(0.5); B: 0.
    assert out.loc[0, "rmsse"] == pytest.approx(np.sqrt(0.5) * 8 / 38)
    # Bias: errors [-2, 0, 0] over actual mean 11/3.
    assert out.loc[0, "bias"] == pytest.approx((-2 / 3) / (11 / 3))
    assert out.loc[0, "n_days"] == 3
    assert pd.isna(out.loc[0, "coverage_95"])  # the 95% levels are not in this forecast


def test_evaluate_equal_weights_and_groups() -> None:
    forecast, actuals, history = _two_series_case()
    forecast["model"] = ["m1", "m1", "m2", "m2"]
    out = evaluate(forecast, actuals, history, quantiles=[0.5], weights=None, group_by="model")
    assert list(out["model"]) == ["m1", "m2"]
    assert out["wspl"].tolist() == pytest.approx([0.25, 0.0])


def test_evaluate_without_prices_uses_equal_weights() -> None:
    forecast, actuals, history = _two_series_case()
    out = evaluate(forecast, actuals, history.drop(columns="price"), quantiles=[0.5])
    assert out.loc[0, "wspl"] == pytest.approx(0.125)


def test_evaluate_interval_coverage() -> None:
    forecast, actuals, history = _two_series_case()
    forecast["0.025"] = [3.0, 0.0, 4.0, 4.0]
    forecast["0.975"] = [5.0, 1.0, 6.0, 6.0]
    out = evaluate(forecast, actuals, history, quantiles=[0.025, 0.5, 0.975])
    # A day1 4 in [3,5] yes; A day2 2 in [0,1] no; B day1 5 in [4,6] yes; B day2 censored.
    assert out.loc[0, "coverage_95"] == pytest.approx(2 / 3)


def test_evaluate_names_missing_columns() -> None:
    forecast, actuals, history = _two_series_case()
    with pytest.raises(ValueError, match=r"lacks the columns \['0.9'\]"):
        evaluate(forecast, actuals, history, quantiles=[0.5, 0.9])


def test_series_scales_and_spl() -> None:
    forecast, actuals, history = _two_series_case()
    scales = series_scales(history)
    assert scales["scale"].tolist() == pytest.approx([2.0, 1.0])
    assert scales["revenue"].tolist() == pytest.approx([8.0, 30.0])
    spl = series_spl(forecast, actuals, history, quantiles=[0.5])
    assert spl["spl"].tolist() == pytest.approx([0.25, 0.0])
