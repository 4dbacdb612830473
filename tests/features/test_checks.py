"""The one parameter validator (features/checks.py): what passes, and the message when it does not."""

from __future__ import annotations

import numpy as np
import pytest

from features.checks import check_params, flag, is_number, is_whole, one_of, whole


def test_whole_numbers_are_ints_not_bools_or_floats() -> None:
    assert is_whole(3) and is_whole(np.int64(3)) and is_whole(0)
    assert not is_whole(True) and not is_whole(3.0) and not is_whole("3") and not is_whole(-1)
    assert is_whole(-1, None) and is_whole(5, 1, 5) and not is_whole(6, 1, 5)
    assert is_number(2.5) and is_number(np.float32(1)) and not is_number(False) and not is_number("1")


def test_declared_checks_name_the_parameter_what_passes_and_what_was_given() -> None:
    checks = {"days": whole(7, "a whole number of days >= 7"), "rows": whole(1, allow_none=True),
              "blend": flag(), "mode": one_of(("a", "b"))}
    check_params("Thing", checks, days=7, rows=None, blend=False, mode="a")
    cases = [
        ({"days": 6}, r"The 'days' of Thing must be a whole number of days >= 7\. Got 6\."),
        ({"rows": 0}, r"The 'rows' of Thing must be None or a whole number >= 1\. Got 0\."),
        ({"blend": 1}, r"The 'blend' of Thing must be True or False\. Got 1\."),
        ({"mode": "c"}, r"The 'mode' of Thing must be one of \('a', 'b'\)\. Got 'c'\."),
    ]
    for bad, message in cases:
        values = {"days": 7, "rows": None, "blend": False, "mode": "a", **bad}
        with pytest.raises(ValueError, match=message):
            check_params("Thing", checks, **values)
