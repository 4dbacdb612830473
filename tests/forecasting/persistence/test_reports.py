"""The store's reads for pages and reports (SQLite and PostgreSQL)."""

from __future__ import annotations

import pandas as pd

from forecasting.persistence import ResultStore
from tests.forecasting.persistence.test_store import make_forecast, publish


def test_reads_of_the_pages_and_reports(store: ResultStore) -> None:
    first = publish(store, make_forecast(seed=1, n_skus=3))
    later = make_forecast(seed=2, n_skus=2)
    later["date"] = later["date"] + pd.Timedelta(days=2)  # overlaps the first run on 5 of 7 days
    second = publish(store, later)

    keys = store.series_keys(first)
    assert list(keys.columns) == ["sku", "channel"] and len(keys) == 6
    assert keys.equals(keys.sort_values(["sku", "channel"]).reset_index(drop=True))

    rows = store.forecast_rows(first, until=pd.Timestamp("2024-03-03"), with_quantiles=False)
    assert len(rows) == 6 * 3 and all(len(r) == 4 for r in rows)

    totals = store.overlap_totals(first, second)
    assert set(totals["run_id"]) == {first, second} and (totals["n_days"] == 5).all()
    assert len(totals) == 6 + 4  # every series of each run over the shared days
    assert store.overlap_totals(first, 999).empty

    assert store.alert_types() == []
    store.add_alerts([{"type": "spike", "severity": "info", "sku": "SKU_000", "channel": "web",
                       "dedup_key": "k1", "payload": {}}])
    assert store.alert_types() == ["spike"]
    assert store.drift_report_id(first) is None
    report = store.save_drift_report(first, {"verdict": "OK"}, "<html></html>")
    store.save_drift_report(second, {"verdict": "OK"}, "<html></html>")
    assert store.drift_report_id(first) == report
