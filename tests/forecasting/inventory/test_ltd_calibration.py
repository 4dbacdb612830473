"""Lead-time demand calibration: uniform PITs when calibrated, corrections in the right direction."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.inventory.ltd_calibration import (
    LeadTimeDemandCalibration,
    calibration_groups,
    randomized_pit,
)


def _score(spread: float, seed: int = 0) -> LeadTimeDemandCalibration:
    """Plans drawing daily Poisson(5) paths x ``spread`` around the mean; realized demand is Poisson(5)."""
    rng = np.random.default_rng(seed)
    n, n_paths, h, days = 300, 400, 10, 40
    cal = LeadTimeDemandCalibration(prior_weight=0.0)
    groups = np.array(["smooth/short"] * n, dtype=object)
    for origin in (0, 10, 20):
        paths = 5.0 + spread * (rng.poisson(5.0, (n, n_paths, h)) - 5.0)
        cal.record(origin, np.arange(n), paths, np.full(n, h), groups)
    demand = rng.poisson(5.0, (n, days)).astype(float)
    assert cal.update(demand[:, :25]) == 2 * n  # the third plan's window is not observed yet
    assert cal.update(demand) == n
    return cal


def test_a_calibrated_forecaster_plans_at_the_targets() -> None:
    cal = _score(1.0)
    levels = cal.levels(np.array(["smooth/short"] * 3, dtype=object), np.array([0.8, 0.9, 0.97]))
    assert levels == pytest.approx([0.8, 0.9, 0.97], abs=0.03)


def test_too_wide_paths_plan_lower_and_too_narrow_higher() -> None:
    targets = np.array([0.9])
    group = np.array(["smooth/short"], dtype=object)
    assert _score(2.0).levels(group, targets)[0] < 0.85
    assert _score(0.5).levels(group, targets)[0] > 0.95


def test_censored_windows_are_not_scored_and_unknown_groups_keep_the_target() -> None:
    cal = LeadTimeDemandCalibration()
    cal.record(0, np.arange(2), np.ones((2, 50, 5)), np.array([5, 5]), np.array(["a", "a"], dtype=object))
    demand = np.ones((2, 10))
    demand[1, 2] = np.nan
    assert cal.update(demand) == 1
    assert cal.levels(np.array(["b"], dtype=object), np.array([0.9]))[0] == 0.9


def test_ties_are_split_so_a_point_mass_gives_uniform_pits() -> None:
    rng = np.random.default_rng(1)
    pit = randomized_pit(np.zeros((5000, 100)), np.zeros(5000), rng)
    assert abs(pit.mean() - 0.5) < 0.02 and pit.min() >= 0 and pit.max() <= 1
    assert list(calibration_groups(np.array(["smooth", "lumpy"]), np.array([3.0, 30.0]))) == [
        "smooth/short", "lumpy/long"]
