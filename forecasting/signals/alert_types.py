"""The alert vocabulary (no dependencies, so the command line lists it without loading the detectors)."""

from __future__ import annotations

from typing import Final

ALERT_TYPES: Final = (
    "spike", "volatility_shift", "segment_change", "supplier_slippage", "model_not_promoted", "drift",
    "training_failed", "stockout_risk", "excess_stock", "excess_on_order", "policy_health",
)
