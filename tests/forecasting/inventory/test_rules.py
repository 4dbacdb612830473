"""Rules file: shipped defaults, validation errors naming the field, and assignments with reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.inventory.rules import (
    JIT,
    SAFETY_STOCK,
    SEASONAL_HYBRID,
    RulesError,
    assign_policies,
    load_rules,
    parse_rules,
)

AS_OF = pd.Timestamp("2025-12-31")


def _segments(**overrides: object) -> pd.DataFrame:
    row = {"sku": "s", "channel": "web", "abc": "C", "revenue_share": 0.01, "weekly_cv": 0.2, "xyz": "X",
           "adi": 1.0, "cv2": 0.1, "pattern": "smooth", "is_new": False, "history_days": 400,
           "supplier": "ACME", "lead_time_mean": 3.0, "lead_time_reliability": "reliable",
           "lead_time_length": "short"}
    row.update(overrides)
    return pd.DataFrame([row])


def test_default_rules_match_design_table() -> None:
    rules = load_rules()
    assert rules.service_levels == {"A": 0.97, "B": 0.90, "C": 0.80}
    assert rules.segmentation.abc_cutoffs == (0.80, 0.95)
    assert rules.leans["abc.A"] == SAFETY_STOCK and rules.leans["pattern.smooth"] == JIT
    assert rules.policies.jit.buffer_days > 0


def test_c_class_smooth_reliable_short_runs_jit_with_reasons() -> None:
    out = assign_policies(_segments(), load_rules(), AS_OF).iloc[0]
    assert out["policy"] == JIT
    assert out["service_level"] == 0.80
    assert any("abc=C" in r and "leans JIT" in r for r in out["reasons"])
    assert any("lead_time=short" in r for r in out["reasons"])


def test_a_class_erratic_unreliable_runs_safety_stock() -> None:
    seg = _segments(abc="A", xyz="Z", pattern="lumpy", lead_time_reliability="unreliable",
                    lead_time_length="long")
    out = assign_policies(seg, load_rules(), AS_OF).iloc[0]
    assert out["policy"] == SAFETY_STOCK
    assert out["jit_score"] == -5
    assert any("supplier=unreliable" in r and "SAFETY_STOCK" in r for r in out["reasons"])


def test_a_class_never_runs_jit_even_when_signals_lean_jit() -> None:
    out = assign_policies(_segments(abc="A"), load_rules(), AS_OF).iloc[0]
    assert out["policy"] == SAFETY_STOCK
    assert any("not in JIT allowed_classes" in r for r in out["reasons"])


def test_spike_window_ahead_makes_seasonal_hybrid_and_past_windows_do_not() -> None:
    windows = pd.DataFrame({"sku": ["s"], "channel": ["web"], "start": ["2026-02-01"],
                            "peak": ["2026-02-10"], "end": ["2026-02-14"]})
    out = assign_policies(_segments(), load_rules(), AS_OF, windows).iloc[0]
    assert out["policy"] == SEASONAL_HYBRID
    assert out["window_start"] == pd.Timestamp("2026-02-01")
    past = assign_policies(_segments(), load_rules(), pd.Timestamp("2026-03-01"), windows).iloc[0]
    assert past["policy"] == JIT
    # A series buffered all year keeps its buffer; the window only shows up in its reasons.
    critical = assign_policies(_segments(abc="A", xyz="Z"), load_rules(), AS_OF, windows).iloc[0]
    assert critical["policy"] == SAFETY_STOCK
    assert any("already buffered all year" in r for r in critical["reasons"])


def test_spike_windows_missing_columns_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"'spike_windows' frame misses column\(s\) \['peak'\]"):
        assign_policies(_segments(), load_rules(), AS_OF,
                        pd.DataFrame({"sku": ["s"], "channel": ["web"], "start": [AS_OF], "end": [AS_OF]}))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"service_levels": {"A": 1.2, "B": 0.9, "C": 0.8}},
         r"The 'service_level' of class 'A' must be in \(0.5, 1\). Got 1.2."),
        ({"service_levels": {"A": 0.97, "B": 0.9, "C": 0.4}},
         r"The 'service_level' of class 'C' must be in \(0.5, 1\). Got 0.4."),
        ({"default_policy": "LEAN"}, "'default_policy' names an unknown policy 'LEAN'"),
        ({"leans": {"abc.A": "BUFFER"}}, "lean 'abc.A' names an unknown policy 'BUFFER'"),
        ({"leans": {"colour.red": "JIT"}}, "lean 'colour.red' is not a known 'signal.value'"),
        ({"policies": {"KANBAN": {}}}, r"table \[policies.KANBAN\] names an unknown policy 'KANBAN'"),
        ({"segmentation": {"abc_cutoffs": [0.95, 0.8]}}, "'abc_cutoffs' must be two increasing cut-offs"),
        ({"segmentation": {"xyz_cutoffs": [1.0, 1.0]}}, "'xyz_cutoffs' must be two increasing cut-offs"),
        ({"review_days": 7}, "field 'review_days' is not a known setting"),
        ({"lot_review_periods": -1}, "'lot_review_periods': Input should be greater than or equal to 0"),
    ],
)
def test_rules_validation_errors_name_the_field(raw: dict, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_rules(raw)


def test_load_rules_reports_file_and_syntax_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[service_levels\nA = 0.9\n")
    with pytest.raises(RulesError, match="is not valid TOML"):
        load_rules(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_rules(tmp_path / "missing.toml")
    good = tmp_path / "good.toml"
    good.write_text('review_period_days = 14\n[service_levels]\nA = 0.99\nB = 0.9\nC = 0.6\n')
    rules = load_rules(good)
    assert rules.review_period_days == 14 and rules.service_level("A") == 0.99


def test_fill_rate_patterns_switch_the_service_measure() -> None:
    rules = parse_rules({"fill_rate_patterns": ["lumpy"]})
    lumpy = assign_policies(_segments(pattern="lumpy", abc="A"), rules, AS_OF).iloc[0]
    smooth = assign_policies(_segments(abc="A"), rules, AS_OF).iloc[0]
    assert lumpy["service_measure"] == "fill_rate" and smooth["service_measure"] == "cycle"
    assert any("fill_rate_patterns" in r for r in lumpy["reasons"])
    with pytest.raises(RulesError, match="'fill_rate_patterns' must be among smooth"):
        parse_rules({"fill_rate_patterns": ["spiky"]})


def test_economic_allocation_sets_targets_from_margin_and_holding_cost() -> None:
    from features.synthetic import generate_catalogue
    from features.validation import build_dataset
    from forecasting.inventory.policy import prepare_context
    from models.baselines import SeasonalNaive

    data = build_dataset(generate_catalogue(20, 2, 200, 4).tables)
    paths = SeasonalNaive().fit(data).sample_paths(28, 50, random_state=0)
    rules = parse_rules({"service_allocation": "economic", "holding_rate": 0.25,
                         "economic_bounds": {"A": [0.9, 0.999], "B": [0.6, 0.99], "C": [0.6, 0.98]}})
    ctx = prepare_context(data, paths, rules, data.end_date)
    skus = data.skus.set_index("sku")
    margin = ctx.assigned["sku"].map(skus["unit_price"] - skus["unit_cost"]).to_numpy()
    holding = 0.25 * ctx.assigned["sku"].map(skus["unit_cost"]).to_numpy() * rules.review_period_days / 365
    bounds = ctx.assigned["abc"].map({"A": (0.9, 0.999), "B": (0.6, 0.99), "C": (0.6, 0.98)})
    expected = np.clip(margin / (margin + holding), [b[0] for b in bounds], [b[1] for b in bounds])
    assert np.allclose(ctx.assigned["service_level"], expected)
    assert ctx.assigned["reasons"].map(lambda rs: rs[-1].startswith("economic target")).all()
    with pytest.raises(RulesError, match="economic_bounds"):
        parse_rules({"economic_bounds": {"A": [0.99, 0.9], "B": [0.8, 0.9], "C": [0.6, 0.8]}})
