"""Segment-change alerts: hysteresis against flapping, one alert per real change, no repeats."""

from __future__ import annotations

import pandas as pd
import pytest

from features.synthetic.generator import generate_catalogue
from features.validation import build_dataset
from forecasting.inventory.segmentation import SegmentationConfig, segment
from forecasting.signals.segment_changes import (
    Threshold,
    apply_hysteresis,
    segment_changes,
    thresholds_from_config,
)


def _seg(cv: float, *, as_of: str = "2026-01-05", policy: str = "JIT", adi: float = 1.0, cv2: float = 0.2,
         pattern: str | None = None) -> pd.DataFrame:
    xyz = "X" if cv <= 0.5 else "Y" if cv <= 1.0 else "Z"
    if pattern is None:
        pattern = {(False, False): "smooth", (False, True): "erratic", (True, False): "intermittent",
                   (True, True): "lumpy"}[(adi > 1.32, cv2 > 0.49)]
    return pd.DataFrame({
        "sku": ["S1", "S2"], "channel": ["web", "web"], "as_of": pd.Timestamp(as_of),
        "revenue": [1000.0, 10.0], "abc": ["A", "C"], "weekly_cv": [cv, 0.2], "xyz": [xyz, "X"],
        "adi": [adi, 1.0], "cv2": [cv2, 0.1], "pattern": [pattern, "smooth"], "policy": [policy, "JIT"],
    })


def test_a_series_hugging_a_cut_off_does_not_flap():
    stored = _seg(0.48, as_of="2026-01-05")
    alerts = []
    for week, cv in enumerate([0.51, 0.49, 0.53, 0.47, 0.54, 0.46]):
        as_of = pd.Timestamp("2026-01-12") + pd.Timedelta(weeks=week)
        current = _seg(cv, as_of=f"{as_of:%Y-%m-%d}")
        alerts += segment_changes(stored, current, margin=0.1)
        stored = apply_hysteresis(stored, current, margin=0.1)
        assert stored.loc[0, "xyz"] == "X"
    assert alerts == []


def test_a_real_crossing_alerts_once_with_figures_and_dates():
    stored = _seg(0.48, as_of="2026-01-05")
    current = _seg(0.62, as_of="2026-01-12")
    alerts = segment_changes(stored, current, margin=0.1)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["type"] == "segment_change" and alert["sku"] == "S1" and alert["channel"] == "web"
    payload = alert["payload"]
    assert (payload["field"], payload["old"], payload["new"]) == ("xyz", "X", "Y")
    assert payload["as_of"] == "2026-01-12" and payload["previous_as_of"] == "2026-01-05"
    assert payload["figures"]["weekly_cv"] == 0.62
    # Against the same stored state the same change has the same key: the store keeps one alert.
    again = segment_changes(stored, _seg(0.64, as_of="2026-01-19"), margin=0.1)
    assert [a["dedup_key"] for a in again] == [alert["dedup_key"]]
    # Once the new state is stored, an unchanged state raises nothing.
    assert segment_changes(apply_hysteresis(stored, current), _seg(0.64, as_of="2026-01-19")) == []


def test_moving_down_needs_the_margin_too():
    stored = _seg(0.6)
    assert segment_changes(stored, _seg(0.47), margin=0.1) == []
    down = segment_changes(stored, _seg(0.44), margin=0.1)
    assert [(a["payload"]["old"], a["payload"]["new"]) for a in down] == [("Y", "X")]


def test_policy_change_is_a_warning_and_new_series_are_not_changes():
    stored = _seg(0.3, policy="JIT")
    current = pd.concat([
        _seg(0.3, policy="SAFETY_STOCK"),
        _seg(0.3).iloc[:1].assign(sku="S3"),
    ], ignore_index=True)
    alerts = segment_changes(stored, current)
    assert [(a["sku"], a["payload"]["field"], a["severity"]) for a in alerts] == [("S1", "policy", "warning")]


def test_pattern_hysteresis_holds_each_axis_separately():
    stored = _seg(0.3, adi=1.25, cv2=0.2)
    assert stored.loc[0, "pattern"] == "smooth"
    hugging = _seg(0.3, adi=1.36, cv2=0.2)
    assert hugging.loc[0, "pattern"] == "intermittent"
    assert apply_hysteresis(stored, hugging).loc[0, "pattern"] == "smooth"
    crossed = _seg(0.3, adi=1.6, cv2=0.6)
    assert apply_hysteresis(stored, crossed).loc[0, "pattern"] == "lumpy"


def test_abc_is_held_on_the_cumulative_revenue_position():
    stored = pd.DataFrame({"sku": ["S1", "S2", "S3"], "channel": "web", "revenue": [70.0, 12.0, 18.0],
                           "abc": ["A", "B", "A"]})
    # S2 climbs well inside A (0.61 < 0.8 * 0.9); S3 slips to 0.82, raw B but within 10% of 0.8.
    current = stored.assign(revenue=[61.0, 21.0, 18.0], abc=["A", "A", "B"])
    held = apply_hysteresis(stored, current, margin=0.1)
    assert held["abc"].tolist() == ["A", "A", "A"]
    assert held["abc_position"].round(2).tolist() == [0.0, 0.61, 0.82]


def test_thresholds_follow_the_segmentation_config():
    rules = thresholds_from_config(SegmentationConfig(xyz_cutoffs=(0.4, 0.9)))
    stored = _seg(0.38)
    assert apply_hysteresis(stored, _seg(0.43), rules)["xyz"].iloc[0] == "X"
    assert rules["xyz"] == Threshold("weekly_cv", (0.4, 0.9), ("X", "Y", "Z"))


def test_real_segmentation_runs_compare_without_spurious_changes():
    cat = generate_catalogue(40, 2, 400, 3)
    data = build_dataset(cat.tables)
    before = segment(data, as_of=data.end_date - pd.Timedelta(days=7))
    after = segment(data)
    alerts = segment_changes(before, after, margin=0.1)
    assert segment_changes(after, after) == []
    raw = (before.set_index(["sku", "channel"])["xyz"] != after.set_index(["sku", "channel"])["xyz"]).sum()
    assert sum(a["payload"]["field"] == "xyz" for a in alerts) <= raw


@pytest.mark.parametrize("margin", [-0.1, 1.0, "0.1"])
def test_bad_margin_is_named(margin):
    with pytest.raises(ValueError, match="'margin' of apply_hysteresis must be in \\[0, 1\\)"):
        apply_hysteresis(_seg(0.3), _seg(0.4), margin=margin)


def test_missing_keys_are_named():
    with pytest.raises(ValueError, match="'current' segmentation lacks the column\\(s\\) \\['channel'\\]"):
        segment_changes(_seg(0.3), _seg(0.3).drop(columns="channel"))
