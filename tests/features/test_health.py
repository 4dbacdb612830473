"""The data health report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from features.health import format_health_report, health_report, plot_health
from features.validation import build_dataset


@pytest.fixture
def dataset():
    long_dates = pd.date_range("2024-01-01", periods=60)
    sales = pd.concat(
        [
            # 60 days, sells every other day, one stockout day.
            pd.DataFrame(
                {
                    "date": long_dates,
                    "sku": "A",
                    "channel": "web",
                    "units": [float(i % 2) for i in range(60)],
                    "in_stock": [0 if i == 10 else 1 for i in range(60)],
                }
            ),
            # Starts 10 days before the end and never sells.
            pd.DataFrame(
                {"date": [long_dates[-10]], "sku": "B", "channel": "shop", "units": 0.0, "in_stock": 1}
            ),
        ]
    )
    skus = pd.DataFrame({"sku": ["A"], "unit_cost": [1.0], "unit_price": [2.0]})
    return build_dataset({"sales": sales, "skus": skus})


def test_health_figures(dataset):
    report = health_report(dataset)
    assert report["series"] == 2
    assert report["skus"] == 2
    assert report["channels"] == 2
    assert (report["start"], report["end"]) == ("2024-01-01", "2024-02-29")
    assert report["rows"] == 70
    assert report["censored_rows"] == 1
    # A: 30 even (zero) days, minus day 10 which is censored, out of 59 uncensored; B: 10 zero days.
    assert report["zero_share"] == pytest.approx(39 / 69)
    assert report["short_series"] == 1
    assert report["series_without_sales"] == 1
    assert report["tables"] == {"sales": 70, "skus": 1}
    assert report["warnings"] == ["1 sales SKU(s) missing from the 'skus' table: B"]
    json.dumps(report)


def test_short_history_threshold_is_a_parameter(dataset):
    assert health_report(dataset, short_history_days=5)["short_series"] == 0
    assert health_report(dataset, short_history_days=61)["short_series"] == 2


def test_format_lists_every_figure(dataset):
    text = format_health_report(health_report(dataset), title="Test data")
    assert text.startswith("Test data\n=========")
    assert "56.5%" in text
    assert "2024-01-01 .. 2024-02-29" in text
    assert "table skus" in text
    assert "warnings: 1\n  - 1 sales SKU(s) missing" in text


def test_plot_writes_png(dataset, tmp_path):
    out = plot_health(dataset, tmp_path / "plots" / "health.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
