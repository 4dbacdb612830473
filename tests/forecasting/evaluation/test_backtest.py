"""Rolling-origin backtests on a small hand-made catalogue with SeasonalNaive."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.evaluation.backtest import backtest, fold_cutoffs
from models.baselines import SeasonalNaive
from tests.models.conftest import make_dataset, toy_sales


@pytest.fixture
def data():
    return make_dataset(toy_sales(n_days=100))


def test_fold_cutoffs_step_back_from_the_end(data) -> None:
    cutoffs = fold_cutoffs(data, horizon=14, folds=3, step=7)
    end = data.end_date
    assert cutoffs == [end - pd.Timedelta(days=d) for d in (28, 21, 14)]


def test_fold_cutoffs_reject_too_short_data(data) -> None:
    with pytest.raises(ValueError, match="too short for 10 folds"):
        fold_cutoffs(data, horizon=28, folds=10, step=28)


def test_backtest_scores_every_model_on_the_same_windows(data) -> None:
    models = {"naive7": SeasonalNaive(), "naive1": SeasonalNaive(season_length=1)}
    result = backtest(models, data, horizon=14, folds=2, n_paths=50, progress=False)
    # Each fold forecasts every series known at its cutoff ('late' launches between the two).
    known = [len(data.truncate(c).series()) for c in fold_cutoffs(data, 14, 2, 14)]
    assert known[0] < known[1]
    assert len(result.forecasts) == 2 * 14 * sum(known)
    for fold in (0, 1):
        fold_rows = result.forecasts[result.forecasts["fold"] == fold]
        dates = fold_rows.groupby("name")["date"].agg(["min", "max"])
        assert dates["min"].nunique() == 1 and dates["max"].nunique() == 1
    assert set(result.metrics["name"]) == {"naive7", "naive1"}
    for col in ("wspl", "mean_spl", "coverage_50", "coverage_95", "rmsse", "bias", "total_coverage_14"):
        assert result.metrics[col].notna().all(), col
    assert (result.metrics["wspl"] > 0).all()
    assert result.metrics["coverage_95"].between(0, 1).all()
    assert len(result.fold_metrics) == 4
    # 7 is not skipped, 28 > horizon is.
    assert set(result.totals["lead_time"]) == {7, 14}


def test_backtest_leaves_stockout_windows_out_of_totals(data) -> None:
    # The 'stockout' series is censored 29..25 days before the end: inside folds 0 and 1, not 2.
    result = backtest({"naive": SeasonalNaive()}, data, horizon=14, folds=3, step=14, progress=False)
    t = result.totals
    stockout = t[(t["sku"] == "stockout") & (t["lead_time"] == 14)].sort_values("fold")
    assert stockout["actual"].iloc[:2].isna().all()
    assert stockout["actual"].iloc[2] > 0
    scored = result.actuals
    assert scored["censored"].any()


def test_backtest_factory_and_n_jobs_are_accepted(data) -> None:
    result = backtest(SeasonalNaive, data, horizon=7, folds=1, total_lead_times=(), progress=False)
    assert list(result.metrics["name"]) == ["SeasonalNaive"]
    assert result.totals.empty


def test_backtest_measures_totals_on_a_seeded_sample_of_series(data) -> None:
    models = {"naive7": SeasonalNaive(), "naive1": SeasonalNaive(season_length=1)}
    result = backtest(models, data, horizon=14, folds=2, n_paths=50, total_series=2, progress=False)
    t = result.totals[result.totals["lead_time"] == 14]
    per = t.groupby(["name", "fold"])[["sku", "channel"]].apply(lambda g: sorted(map(tuple, g.to_numpy())))
    assert (per.map(len) == 2).all()
    # Every model of a fold is scored on the same series.
    for fold in (0, 1):
        assert per.loc[("naive7", fold)] == per.loc[("naive1", fold)]
    everything = backtest(models, data, horizon=14, folds=2, n_paths=50, progress=False).totals
    assert everything.groupby(["name", "fold", "lead_time"]).size().min() > 2


class _Recorder:
    """A progress reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, total: int) -> None:
        self.calls.append(("start", total))

    def update(self, description: str) -> None:
        self.calls.append(("update", description))

    def advance(self) -> None:
        self.calls.append(("advance", None))

    def note(self, line: str) -> None:
        self.calls.append(("note", line))

    def stop(self) -> None:
        self.calls.append(("stop", None))


def test_backtest_reports_progress_through_the_protocol(data) -> None:
    recorder = _Recorder()
    models = {"naive7": SeasonalNaive(), "naive1": SeasonalNaive(season_length=1)}
    backtest(models, data, horizon=7, folds=2, total_lead_times=(), progress=recorder)
    kinds = [kind for kind, _ in recorder.calls]
    assert recorder.calls[0] == ("start", 4) and kinds[-1] == "stop"
    assert kinds.count("advance") == 4 and kinds.count("note") == 4
    assert ("update", "naive1 fold 2/2") in recorder.calls
    notes = [str(text) for kind, text in recorder.calls if kind == "note"]
    assert all(" fit " in n and "forecast and paths" in n for n in notes)
