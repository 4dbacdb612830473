"""Declared parameter checks: one validator for every estimator, detector and generator option.

An owner (a forecaster class, a detector function) declares ``{parameter: ParamCheck}`` once, in the
style of scikit-learn's ``_parameter_constraints``; :func:`check_params` runs the declarations and the
message always reads "The '<parameter>' of <owner> must be <expected>. Got <value>."
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ParamCheck:
    """A declared check of one parameter: ``test(value)`` must be true; ``expected`` says what passes."""

    test: Callable[[Any], bool]
    expected: str


def is_number(value: object) -> bool:
    """True for a real number that is not a bool (bools are ints to Python, never a valid figure)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def is_whole(value: object, minimum: int | None = 0, maximum: int | None = None) -> bool:
    """True for a whole number (not a bool) in ``minimum..maximum`` (None: unbounded on that side)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return False
    return bool((minimum is None or value >= minimum) and (maximum is None or value <= maximum))


def whole(minimum: int, expected: str | None = None, *, allow_none: bool = False) -> ParamCheck:
    """A whole number >= ``minimum`` (or None if ``allow_none``).

    Args:
        minimum: Smallest valid value.
        expected: What the message says passes; default ``"a whole number >= <minimum>"``.
        allow_none: None is valid too (the message says so unless ``expected`` is given).
    """
    text = expected or f"a whole number >= {minimum}"
    if allow_none:
        return ParamCheck(lambda v: v is None or is_whole(v, minimum),
                          text if expected else f"None or {text}")
    return ParamCheck(lambda v: is_whole(v, minimum), text)


def flag() -> ParamCheck:
    """True or False (not 0 / 1)."""
    return ParamCheck(lambda v: isinstance(v, bool | np.bool_), "True or False")


def one_of(options: Collection[object]) -> ParamCheck:
    """One of ``options``."""
    return ParamCheck(lambda v: v in options, f"one of {tuple(options)}")


def check_params(owner: str, checks: Mapping[str, ParamCheck], **values: object) -> None:
    """Run declared parameter checks.

    Args:
        owner: Who the parameters belong to (class or function name), for the message.
        checks: One :class:`ParamCheck` per parameter.
        **values: The parameters as given.

    Raises:
        ValueError: Naming the first parameter that fails, what it must be and what was given.
    """
    for name, check in checks.items():
        value = values[name]
        if not check.test(value):
            raise ValueError(f"The '{name}' of {owner} must be {check.expected}. Got {value!r}.")
