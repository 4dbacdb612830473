"""Settings: read from BLENDCAST_* once per process, validated with the variable named."""

from __future__ import annotations

import pytest

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
