"""Webhook signatures: what receivers verify."""

from __future__ import annotations

from forecasting.infrastructure.webhooks import signature, verify_signature

SECRET = "test-secret"


def test_signature_round_trip_and_tampered_body_is_rejected():
    body = b'{"alert": {"sku": "S1"}}'
    header = signature(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(body, header, SECRET)
    assert not verify_signature(body.replace(b"S1", b"S2"), header, SECRET)
    assert not verify_signature(body, header, "another-secret")
    assert not verify_signature(body, None, SECRET)
