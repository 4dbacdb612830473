"""Alert building, storage and webhook delivery to a real local HTTP receiver through the real store."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from forecasting.infrastructure.settings import Settings
from forecasting.infrastructure.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    delivery_request,
    process_outbox,
    verify_signature,
)
from forecasting.persistence import ResultStore
from forecasting.signals.alerts import emit_alerts, make_alert, spike_alerts, volatility_alerts

SECRET = "s3cret-shared-with-receivers"


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks signatures like a real one would."""

    def __init__(self, port: int, fail_first: int = 0) -> None:
        self.port = port
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    status = 503
                elif not verify_signature(body, self.headers.get(SIGNATURE_HEADER), SECRET):
                    status = 401
                else:
                    receiver.accepted.append(json.loads(body))
                    status = 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    result_store = ResultStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield result_store
    result_store.dispose()


def _settings(tmp_path: Path, *urls: str) -> Settings:
    return Settings(home=tmp_path, webhook_urls=list(urls), webhook_secret=SECRET)


def _alert(sku: str = "S1") -> dict:
    return make_alert("spike", "warning", sku, "web", {"uplift": 3.2, "message": "x3.2 ahead"},
                      dedup_key=f"spike|{sku}|web|2026-W50")


def test_alert_is_delivered_signed_once_with_delivery_and_timestamp_headers(store, tmp_path):
    with Receiver(_free_port()) as receiver:
        ids = emit_alerts(store, [_alert()], _settings(tmp_path, receiver.url))
        assert len(ids) == 1
        assert len(receiver.accepted) == 1
        headers, body = receiver.requests[0]
        assert verify_signature(body, headers[SIGNATURE_HEADER], SECRET)
        assert headers[DELIVERY_HEADER] == receiver.accepted[0]["delivery_id"]
        assert abs(int(headers[TIMESTAMP_HEADER]) - datetime.now(UTC).timestamp()) < 60
        assert receiver.accepted[0]["alert"]["sku"] == "S1"
        assert receiver.accepted[0]["alert"]["payload"]["uplift"] == 3.2
        # Nothing is due any more: a second pass sends nothing, and re-emitting is deduplicated.
        later = datetime.now(UTC) + timedelta(days=1)
        assert process_outbox(store, SECRET, now=later).sent == []
        assert emit_alerts(store, [_alert()], _settings(tmp_path, receiver.url)) == []
        assert len(receiver.requests) == 1
    stored = store.list_alerts()
    assert stored["delivered_at"].notna().all()


def test_receiver_down_then_back_loses_nothing_and_sends_nothing_twice(store, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    ids = emit_alerts(store, [_alert("S1"), _alert("S2")], _settings(tmp_path, url))
    assert len(ids) == 2
    assert store.list_alerts()["delivered_at"].isna().all()
    # Not due again right away: the store backs off before the next attempt.
    assert process_outbox(store, SECRET).sent == []
    with Receiver(port) as receiver:
        report = process_outbox(store, SECRET, now=datetime.now(UTC) + timedelta(hours=2))
        assert len(report.sent) == 2 and not report.failed
        assert sorted(a["alert"]["sku"] for a in receiver.accepted) == ["S1", "S2"]
        process_outbox(store, SECRET, now=datetime.now(UTC) + timedelta(days=2))
        assert len(receiver.requests) == 2
    assert store.list_alerts()["delivered_at"].notna().all()


def test_failed_attempt_is_retried_with_the_same_delivery_id(store, tmp_path):
    with Receiver(_free_port(), fail_first=1) as receiver:
        emit_alerts(store, [_alert()], _settings(tmp_path, receiver.url))
        assert receiver.accepted == []
        process_outbox(store, SECRET, now=datetime.now(UTC) + timedelta(hours=1))
        assert len(receiver.accepted) == 1
        ids = [headers[DELIVERY_HEADER] for headers, _ in receiver.requests]
        assert len(ids) == 2 and ids[0] == ids[1]
        assert receiver.accepted[0]["attempt"] == 2


def test_every_configured_receiver_gets_the_alert(store, tmp_path):
    with Receiver(_free_port()) as first, Receiver(_free_port()) as second:
        emit_alerts(store, [_alert()], _settings(tmp_path, first.url, second.url))
        assert len(first.accepted) == 1 and len(second.accepted) == 1
        assert first.accepted[0]["delivery_id"] != second.accepted[0]["delivery_id"]


def test_webhooks_without_a_secret_are_refused_before_storing(store, tmp_path):
    settings = Settings(home=tmp_path, webhook_urls=["http://127.0.0.1:9/hook"], webhook_secret="")
    with pytest.raises(ValueError, match="BLENDCAST_WEBHOOK_SECRET is empty"):
        emit_alerts(store, [_alert()], settings)
    assert store.list_alerts().empty


def test_alerts_without_webhooks_are_stored_and_logged(store, tmp_path, caplog):
    with caplog.at_level("INFO", logger="forecasting.signals.alerts"):
        ids = emit_alerts(store, [_alert()], Settings(home=tmp_path))
    assert len(ids) == 1
    assert "alert spike [warning] x3.2 ahead" in caplog.text


def test_make_alert_rejects_unknown_type_and_severity():
    with pytest.raises(ValueError, match="alert 'type' must be one of"):
        make_alert("weather", "info", None, None, {})
    with pytest.raises(ValueError, match="alert 'severity' must be one of"):
        make_alert("spike", "urgent", None, None, {})


def test_detector_frames_become_alerts_with_stable_dedup_keys():
    spikes = pd.DataFrame({
        "sku": ["S1"], "channel": ["web"], "start": [pd.Timestamp("2026-11-20")],
        "peak": [pd.Timestamp("2026-12-10")], "end": [pd.Timestamp("2026-12-24")], "uplift": [4.0],
        "confidence": [0.9], "source": ["yoy"],
    })
    shifted = spikes.assign(start=pd.Timestamp("2026-11-22"), peak=pd.Timestamp("2026-12-11"))
    first, second = spike_alerts(spikes)[0], spike_alerts(shifted)[0]
    assert first["severity"] == "warning"
    assert first["dedup_key"] == second["dedup_key"]
    assert first["payload"]["peak"] == "2026-12-10T00:00:00"
    shifts = pd.DataFrame({"sku": ["S1"], "channel": ["web"], "changed_at": [pd.Timestamp("2026-05-04")],
                           "cv_before": [0.3], "cv_after": [0.8], "p_value": [1e-6], "q_value": [1e-4]})
    alert = volatility_alerts(shifts)[0]
    assert alert["severity"] == "warning" and alert["payload"]["direction"] == "up"
    calmer = volatility_alerts(shifts.assign(cv_after=0.1))[0]
    assert calmer["severity"] == "info" and calmer["dedup_key"] != alert["dedup_key"]


def test_a_body_signed_with_another_key_is_refused_and_kept_for_retry(store, tmp_path):
    with Receiver(_free_port()) as receiver:
        store_ids = store.add_alerts([_alert()])
        store.enqueue_deliveries(store_ids, [receiver.url])
        report = process_outbox(store, "not-the-shared-secret")
        assert receiver.accepted == []
        assert next(iter(report.failed.values())).startswith("HTTP 401")
        assert store.list_alerts()["delivered_at"].isna().all()


@pytest.mark.postgres
def test_outbox_on_postgresql_delivers_once_after_the_receiver_comes_back(postgres_url, tmp_path):
    pg_store = ResultStore(postgres_url)
    try:
        port = _free_port()
        settings = _settings(tmp_path, f"http://127.0.0.1:{port}/hook")
        assert len(emit_alerts(pg_store, [_alert("P1")], settings)) == 1
        with Receiver(port) as receiver:
            later = datetime.now(UTC) + timedelta(hours=2)
            assert len(process_outbox(pg_store, SECRET, now=later).sent) == 1
            assert process_outbox(pg_store, SECRET, now=later + timedelta(days=1)).sent == []
            assert len(receiver.requests) == 1
        assert pg_store.list_alerts()["delivered_at"].notna().all()
    finally:
        pg_store.dispose()


def test_receiver_rejects_a_tampered_body_and_accepts_the_original():
    import httpx

    from forecasting.persistence import Delivery

    delivery = Delivery(id=7, alert_id=3, url="", attempts=0, next_attempt_at=None, last_error=None,
                        alert={"id": 3, "type": "spike", "sku": "S1", "payload": {"uplift": 3.0}})
    body, headers = delivery_request(delivery, SECRET, datetime.now(UTC))
    with Receiver(_free_port()) as receiver, httpx.Client() as client:
        tampered = body.replace(b'"uplift": 3.0', b'"uplift": 9.0')
        assert tampered != body
        assert client.post(receiver.url, content=tampered, headers=headers).status_code == 401
        assert client.post(receiver.url, content=body, headers=headers).status_code == 200
        assert receiver.accepted[0]["alert"]["payload"]["uplift"] == 3.0


def test_re_estimated_spikes_and_shifts_are_not_announced_again(store, tmp_path):
    settings = Settings(home=tmp_path)

    def spike(start: str, end: str, peak: str) -> dict:
        frame = pd.DataFrame({"sku": ["S1"], "channel": ["web"], "start": [pd.Timestamp(start)],
                              "peak": [pd.Timestamp(peak)], "end": [pd.Timestamp(end)], "uplift": [3.0],
                              "confidence": [0.9], "source": ["yoy"]})
        return spike_alerts(frame)[0]

    def shift(changed_at: str, cv_after: float) -> dict:
        frame = pd.DataFrame({"sku": ["S1"], "channel": ["web"], "changed_at": [pd.Timestamp(changed_at)],
                              "cv_before": [0.3], "cv_after": [cv_after], "p_value": [1e-6],
                              "q_value": [1e-4]})
        return volatility_alerts(frame)[0]

    assert len(emit_alerts(store, [spike("2026-11-20", "2026-12-24", "2026-12-10"),
                                   shift("2026-05-04", 0.8)], settings)) == 2
    # Next week's estimates moved by days: new dedup keys, same events.
    moved = [spike("2026-11-23", "2026-12-26", "2026-12-17"), shift("2026-05-18", 0.85)]
    assert moved[0]["dedup_key"] != spike("2026-11-20", "2026-12-24", "2026-12-10")["dedup_key"]
    assert emit_alerts(store, moved, settings) == []
    # A later season and a calmer regime are new events.
    fresh = [spike("2027-11-20", "2027-12-24", "2027-12-10"), shift("2026-05-18", 0.1)]
    assert len(emit_alerts(store, fresh, settings)) == 2
    assert len(store.list_alerts()) == 4
