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


def test_implausible_units_are_warned_with_the_rows_named():
    days = pd.date_range("2024-01-01", periods=60)
    units = [float(3 + i % 4) for i in range(60)]
    units[20] = 1e9  # a typo
    steady = [float(2000 + i) for i in range(60)]  # a big seller: large but usual for itself
    spike = [5.0] * 60
    spike[30] = 4000.0  # 800x its usual day
    sales = pd.concat([
        pd.DataFrame({"date": days, "sku": "A", "channel": "web", "units": units}),
        pd.DataFrame({"date": days, "sku": "BIG", "channel": "web", "units": steady}),
        pd.DataFrame({"date": days, "sku": "C", "channel": "web", "units": spike}),
    ])
    report = health_report(build_dataset({"sales": sales}))
    assert report["implausible_rows"] == 2
    (warning,) = [w for w in report["warnings"] if "implausible" in w]
    assert "A/web 2024-01-21 units=1e+09" in warning and "C/web 2024-01-31 units=4000" in warning
    assert "BIG" not in warning
    assert "warnings: 1" in format_health_report(report)


def test_no_plausibility_warning_on_ordinary_data(dataset):
    report = health_report(dataset)
    assert report["implausible_rows"] == 0
    assert not any("implausible" in w for w in report["warnings"])
