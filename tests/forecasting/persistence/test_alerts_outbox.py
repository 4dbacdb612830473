"""Alerts with their webhook outbox, and drift reports, in the result store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from forecasting.persistence import NotFoundError, ResultStore
from forecasting.persistence.alerts import MAX_DELIVERY_ATTEMPTS


def test_alerts_are_deduplicated(store: ResultStore) -> None:
    alert = {
        "type": "segment_change",
        "severity": "warning",
        "sku": "A",
        "channel": "web",
        "payload": {"from": "C", "to": "A", "score": np.float64(0.5)},
        "dedup_key": "seg:A:web:r1",
    }
    ids = store.add_alerts([alert, dict(alert), {**alert, "dedup_key": None, "type": "spike"}])
    assert len(ids) == 2
    assert store.add_alerts([alert]) == []
    listed = store.list_alerts()
    assert listed["id"].tolist() == sorted(ids, reverse=True)
    assert store.list_alerts(type="spike")["dedup_key"].isna().all()
    assert listed.loc[listed["type"] == "segment_change", "payload"].iloc[0] == {
        "from": "C",
        "to": "A",
        "score": 0.5,
    }
    assert store.list_alerts(since=datetime.now(UTC) + timedelta(hours=1)).empty
    with pytest.raises(
        ValueError, match=r"The 'severity' of alert 0 must be one of \['info', 'warning', 'critical'\]"
    ):
        store.add_alerts([{**alert, "severity": "loud"}])
    with pytest.raises(ValueError, match=r"'dedup_key' of alert 1 must be at most 255 characters\. Got 300"):
        store.add_alerts([{**alert, "dedup_key": "new"}, {**alert, "dedup_key": "k" * 300}])
    assert store.list_alerts(type="segment_change")["dedup_key"].tolist() == [
        "seg:A:web:r1"
    ]  # nothing stored


def test_outbox_delivers_retries_and_gives_up(store: ResultStore) -> None:
    ids = store.add_alerts(
        [{"type": "spike", "severity": "info", "sku": "A", "channel": "web", "payload": {}}]
    )
    urls = ["https://a.example/hook", "https://b.example/hook"]
    store.enqueue_deliveries(ids, urls)
    store.enqueue_deliveries(ids, urls)  # queued once only
    now = datetime.now(UTC) + timedelta(seconds=1)
    due = store.due_deliveries(now)
    assert sorted(d.url for d in due) == urls and due[0].alert["type"] == "spike"
    ok, bad = due
    store.record_delivery(ok.id, ok=True)
    store.record_delivery(bad.id, ok=False, error="HTTP 503", next_attempt_at=now + timedelta(minutes=5))
    assert store.due_deliveries(now) == []
    assert store.list_alerts()["delivered_at"].notna().all()
    later = store.due_deliveries(now + timedelta(minutes=5))
    assert [(d.id, d.attempts, d.last_error) for d in later] == [(bad.id, 1, "HTTP 503")]
    store.record_delivery(bad.id, ok=False, error="timeout")  # default backoff: 2 minutes after 2 attempts
    assert store.due_deliveries(datetime.now(UTC) + timedelta(seconds=100)) == []
    assert len(store.due_deliveries(datetime.now(UTC) + timedelta(minutes=3))) == 1
    for _ in range(MAX_DELIVERY_ATTEMPTS):
        store.record_delivery(bad.id, ok=False, error="timeout")
    assert store.due_deliveries(datetime.now(UTC) + timedelta(days=30)) == []
    with pytest.raises(NotFoundError, match="Outbox row 999"):
        store.record_delivery(999, ok=True)


def test_drift_reports(store: ResultStore) -> None:
    assert store.get_drift_report() is None
    run_id = store.create_run("train", {})
    first = store.save_drift_report(run_id, {"psi": 0.1}, "<h1>one</h1>")
    second = store.save_drift_report(None, {"psi": np.nan}, "<h1>two</h1>")
    latest = store.get_drift_report()
    assert latest is not None and (latest.id, latest.run_id, latest.summary, latest.html) == (
        second,
        None,
        {"psi": None},
        "<h1>two</h1>",
    )
    assert store.get_drift_report(first).run_id == run_id  # type: ignore[union-attr]
    assert store.get_drift_report(12345) is None
