"""Settings: read from BLENDCAST_* once per process, validated with the variable named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from forecasting.infrastructure.settings import Settings, get_settings


def test_settings_are_read_once_until_the_cache_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLENDCAST_HORIZON", "14")
    first = get_settings()
    assert first.horizon == 14
    monkeypatch.setenv("BLENDCAST_HORIZON", "21")
    assert get_settings() is first  # one read per process: later changes are not seen
    get_settings.cache_clear()
    assert get_settings().horizon == 21


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLENDCAST_HORIZON", "0")
    with pytest.raises(ValueError, match=r"BLENDCAST_HORIZON must be a positive number of days\. Got 0"):
        Settings()
    monkeypatch.setenv("BLENDCAST_HORIZON", "28")
    monkeypatch.setenv("BLENDCAST_N_JOBS", "-1")
    with pytest.raises(ValueError, match=r"BLENDCAST_N_JOBS must be >= 0 \(0 = all cores\). Got -1"):
        Settings()


def test_stockout_inference_is_on_by_default_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    inference = Settings().stockout_inference()
    assert inference is not None and inference.threshold == 0.001
    monkeypatch.setenv("BLENDCAST_STOCKOUT_THRESHOLD", "1e-6")
    assert Settings().stockout_inference().threshold == 1e-6  # type: ignore[union-attr]
    monkeypatch.setenv("BLENDCAST_INFER_STOCKOUTS", "false")
    assert Settings().stockout_inference() is None


@pytest.mark.parametrize("value", ["0", "1", "1.5"])
def test_stockout_threshold_outside_zero_one_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("BLENDCAST_STOCKOUT_THRESHOLD", value)
    with pytest.raises(ValidationError, match=r"STOCKOUT_THRESHOLD must be a probability in \(0, 1\)"):
        Settings()
