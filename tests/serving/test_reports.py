"""The HTML drift report: self-contained, verdict first, saved and found per run; the drift command."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasting.evaluation.drift import compute_drift
from forecasting.evaluation.realized_accuracy import (
    compare_forecasts,
    compare_totals,
    labels_from_segments,
    overlap_totals,
)
from forecasting.persistence import ResultStore
from serving.cli import build_app
from serving.reports import build_drift_report, find_drift_report, run_drift
from tests.serving.test_ui import Published, make_published_store


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return make_published_store(tmp_path_factory.mktemp("reports"))


def test_report_is_self_contained_with_verdict_first(published: Published) -> None:
    result = compute_drift(published.data, published.store, volatility=True)
    run = published.store.get_run(published.run_ids[-1])
    html = build_drift_report(result, run)
    assert html.startswith("<!DOCTYPE html>")
    # Works offline: nothing is fetched, nothing runs.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "url(http" not in html and "<script" not in html.lower()
    assert re.findall(r"<link[^>]*>", html) == ['<link rel="icon" href="data:,">']
    verdict_at = html.index('id="verdict"')
    assert verdict_at < html.index("<h2>")
    assert f'class="verdict verdict-{result.verdict}"' in html
    for reason in result.summary["reasons"]:
        assert reason.replace("'", "&#39;") in html
    for chart in ("coverage", "spl", "psi", "demand", "volatility"):
        assert f'aria-label="{chart}"' in html
    # Both runs' earlier days have actuals: realized accuracy is charted, not the empty placeholder.
    assert result.summary["n_scored_runs"] == 2
    assert "No realized accuracy yet" not in html
    assert result.summary["previous_run_id"] == published.run_ids[0]
    assert len(result.forecast_drift) and "Forecast drift" in html


def test_run_drift_saves_and_finds_the_report_per_run(published: Published) -> None:
    report_id, html = run_drift(published.data, published.store, run_id=published.run_ids[0],
                                volatility=False)
    found = find_drift_report(published.store, published.run_ids[0])
    assert found is not None and found.id == report_id and found.html == html
    assert found.summary["run_id"] == published.run_ids[0]
    assert found.summary["verdict"] in ("OK", "WATCH", "ACT")
    # The run before has nothing earlier to compare its forecast with.
    assert found.summary["previous_run_id"] is None
    latest = find_drift_report(published.store)
    assert latest is not None and latest.id == report_id
    assert find_drift_report(published.store, 12345) is None


def _sales_dir(path: Path) -> Path:
    rng = np.random.default_rng(5)
    dates = pd.date_range("2024-01-01", periods=150)
    sales = pd.DataFrame({"date": np.tile(dates, 6), "sku": np.repeat([f"S{i}" for i in range(6)], 150),
                          "channel": "web", "units": rng.poisson(4.0, 900)})
    path.mkdir()
    sales.to_csv(path / "sales.csv", index=False, date_format="%Y-%m-%d")
    return path


def test_drift_command_saves_and_writes_the_report(tmp_path: Path) -> None:
    data_dir = _sales_dir(tmp_path / "data")
    out = tmp_path / "drift.html"
    env = {"BLENDCAST_HOME": str(tmp_path / "home"), "BLENDCAST_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(build_app(), ["drift", "--data", str(data_dir), "--out", str(out),
                                              "--no-volatility"], env=env)
    assert result.exit_code == 0, result.output
    assert "drift report 1" in result.output
    store = ResultStore(f"sqlite:///{tmp_path / 'home' / 'blendcast.db'}")
    saved = store.get_drift_report()
    assert saved is not None and out.read_text(encoding="utf-8") == saved.html
    assert saved.summary["verdict"] in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "report.txt"], "The --out file must end in .html. Got 'report.txt'"),
        (["--run-id", "77"], "Run 77 does not exist"),
        (["--recent-days", "3"], "The 'recent_days' of compute_drift must be a whole number of days >= 7"),
    ],
)
def test_drift_command_bad_input_exits_2_and_saves_nothing(tmp_path: Path, args: list[str],
                                                           message: str) -> None:
    data_dir = _sales_dir(tmp_path / "data")
    home = tmp_path / "home"
    argv = ["drift", "--data", str(data_dir), *[a if a != "report.txt" else str(tmp_path / a) for a in args]]
    result = CliRunner().invoke(build_app(), argv, env={"BLENDCAST_HOME": str(home)})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "report.txt").exists()
    assert ResultStore(f"sqlite:///{home / 'blendcast.db'}").get_drift_report() is None


def test_drift_command_rejects_a_missing_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["drift", "--data", str(tmp_path / "nope")],
                                env={"BLENDCAST_HOME": str(tmp_path / "home")})
    assert result.exit_code == 2 and "must be a directory holding sales.csv" in result.output


def test_forecast_drift_in_sql_matches_the_frames(published: Published) -> None:
    store = published.store
    previous, current = (store.get_run(i) for i in published.run_ids)
    labels = labels_from_segments(store.get_segments(current.id))
    in_sql = compare_totals(overlap_totals(store, previous, current), labels)
    frames = compare_forecasts(store.get_forecasts(previous.id), store.get_forecasts(current.id), labels)
    pd.testing.assert_frame_equal(in_sql[0], frames[0])
    keys = [set(map(tuple, store.get_forecasts(r.id)[["sku", "channel"]].to_numpy()))
            for r in (previous, current)]
    assert in_sql[0].set_index("segment").loc["all", "n_series"] == len(keys[0] & keys[1]) > 0
