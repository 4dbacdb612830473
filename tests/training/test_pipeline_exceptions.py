"""The weekly job stores the planner's exceptions of the policies it publishes as alerts."""

from __future__ import annotations

from pathlib import Path

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from forecasting.signals.exception_alerts import EXCEPTION_TYPES
from training.pipeline import TrainOptions, run_training


def test_weekly_job_stores_exceptions_of_the_published_run(settings: Settings, catalogue_dir: Path) -> None:
    result = run_training(settings, TrainOptions(data_dir=catalogue_dir, model="seasonal_naive", folds=1,
                                                 n_paths=100))
    assert result.status == "published"
    store = ResultStore.from_settings(settings)
    stored = [a for t in EXCEPTION_TYPES for a in store.list_alerts(type=t).to_dict("records")]
    assert stored, "the synthetic catalogue (random stock of 3..45 days of demand) should trip some"
    policies = store.get_policies().set_index(["sku", "channel"])
    for alert in stored:
        payload = alert["payload"]
        assert payload["run_id"] == result.run_id
        assert payload["message"] and payload["action"]
        assert (alert["sku"], alert["channel"]) in policies.index
    risks = [a for a in stored if a["type"] == "stockout_risk"]
    for alert in risks:  # a run-out risk is a position below the lead-time demand it faces
        row = policies.loc[(alert["sku"], alert["channel"])]
        assert row["on_hand"] + row["on_order"] < row["reorder_point"] + 1e-9
    run = store.latest_run()
    assert run is not None
    kpis = run.metrics["operating_kpis"]
    assert {g["policy"] for g in kpis["groups"]} >= {"all"} and len(kpis["suppliers"]) > 0
