"""The one Syntetos-Boylan classifier (features/demand_pattern.py)."""

from __future__ import annotations

import numpy as np
import pytest

from features.demand_pattern import classify_pattern, pattern_statistics

NAN = np.nan


def test_the_four_patterns_and_their_strict_cutoffs() -> None:
    adi = np.array([1.0, 1.0, 2.0, 2.0, 1.32, 1.33, np.inf, NAN])
    cv2 = np.array([0.1, 0.9, 0.1, 0.9, 0.49, 0.50, NAN, NAN])
    got = classify_pattern(adi, cv2)
    assert list(got) == ["smooth", "erratic", "intermittent", "lumpy", "smooth", "lumpy", "intermittent",
                         "intermittent"]
    assert list(classify_pattern(adi[:4], cv2[:4], adi_cutoff=2.5, cv2_cutoff=1.0)) == ["smooth"] * 4


def test_daily_statistics() -> None:
    units = np.array([
        [2.0, 2.0, 2.0, 2.0],        # every day the same: ADI 1, CV² 0
        [0.0, 4.0, 0.0, 4.0],        # demand every other day
        [0.0, NAN, 1.0, 3.0],        # unobserved day left out: 3 observed / 2 with demand; sizes 1, 3
        [0.0, 0.0, NAN, 0.0],        # no demand
    ])
    adi, cv2 = pattern_statistics(units)
    np.testing.assert_allclose(adi[:3], [1.0, 2.0, 1.5])
    assert np.isinf(adi[3]) and np.isnan(cv2[3])
    np.testing.assert_allclose(cv2[:3], [0.0, 0.0, np.var([1.0, 3.0]) / 2.0**2])


def test_buckets_end_on_the_last_day_and_scale_partly_observed_ones() -> None:
    # 10 days in buckets of 4: a partial first bucket (days 0-1), then days 2-5 and 6-9.
    units = np.array([[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, NAN, 2.0, 2.0]])
    adi, cv2 = pattern_statistics(units, bucket_days=4)
    # Bucket totals scaled to 4 days: 2 * 4/2 = 4, 0, 6 * 4/3 = 8 -> 3 buckets, 2 with demand.
    assert adi[0] == pytest.approx(1.5)
    assert cv2[0] == pytest.approx(np.var([4.0, 8.0]) / 6.0**2)
