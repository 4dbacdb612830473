"""Fitted forecasters shared between combinations that would fit them on identical data.

A rolling-origin backtest (or a simulation re-planning every ``holdout_days``) fits a
:class:`models.combination.Combination` at origins ``holdout_days`` apart: the members it fits on all
data at one origin are exactly its holdout members at the next. Inside :func:`shared_member_fits` each
such member is fitted once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from sklearn.base import clone

from features.dataset import Dataset
from models.base import Forecaster

log = logging.getLogger(__name__)

# Fitted members by (member, its parameters, the data they saw). Set by :func:`shared_member_fits`: in
# a rolling-origin backtest with a step equal to ``holdout_days`` the members fitted on all data at one
# origin are exactly the holdout members of the next origin, so each is fitted once, not twice.
MEMBER_FITS: contextvars.ContextVar[dict[tuple[Any, ...], Forecaster] | None] = contextvars.ContextVar(
    "MEMBER_FITS", default=None
)


# Set by a caller above this layer (e.g. the backtest's progress bar): told about each step of a long fit
# (a combination's holdout fold and member), so an hour-long fit does not look hung.
FIT_PROGRESS: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "FIT_PROGRESS", default=None
)


def report_progress(note: str) -> None:
    """Pass ``note`` (e.g. ``"holdout 1/2: lightgbm"``) to the progress hook, if one is set."""
    hook = FIT_PROGRESS.get()
    if hook is not None:
        hook(note)


@contextlib.contextmanager
def shared_member_fits(
    cache: dict[tuple[Any, ...], Forecaster] | None = None,
) -> Iterator[dict[tuple[Any, ...], Forecaster]]:
    """Share fitted members between the combinations fitted inside this block (nested blocks reuse one).

    Members are looked up by name, parameters and a fingerprint of the data (span, rows, units), so a
    member is reused only when it would have been fitted on identical data with identical settings.

    Args:
        cache: A dict to keep the fits in across several blocks (e.g. the re-plans of a simulation);
            None starts an empty one for this block.
    """
    current = MEMBER_FITS.get()
    if current is not None and cache is None:
        yield current
        return
    cache = {} if cache is None else cache
    token = MEMBER_FITS.set(cache)
    try:
        yield cache
    finally:
        MEMBER_FITS.reset(token)


def prune_member_fits(cache: dict[tuple[Any, ...], Forecaster], before: pd.Timestamp) -> None:
    """Drop the fits made on data ending before ``before`` (a rolling caller will not ask again)."""
    for key in [k for k in cache if k[-1][1] < before]:
        del cache[key]


def _data_fingerprint(data: Dataset) -> tuple[Any, ...]:
    sales = data.sales
    return (data.start_date, data.end_date, len(sales), float(sales["units"].sum()),
            int(sales["censored"].sum()) if "censored" in sales else 0)


def _key(name: str, template: Forecaster, data: Dataset) -> tuple[Any, ...]:
    return (name, type(template).__name__, repr(sorted(template.get_params(deep=False).items())),
            _data_fingerprint(data))


def fit_member(name: str, template: Forecaster, data: Dataset, *, refreshed_ok: bool = False) -> Forecaster:
    """``clone(template).fit(data)``, or the identical fit already made inside :func:`shared_member_fits`.

    Args:
        name: The member's name in its combination.
        template: The unfitted member.
        data: The data to fit on.
        refreshed_ok: Also accept a warm refit (:func:`refit_member`) or, failing that, a refresh
            (:func:`refresh_member`) made on this data (a fold of an earlier origin), so a rolling caller
            sees the member it saw before.
    """
    cache = MEMBER_FITS.get()
    if cache is None:
        return clone(template).fit(data)
    key = _key(name, template, data)
    if key not in cache and refreshed_ok:
        for how in ("refit", "refreshed"):
            if _made(key, how) in cache:
                log.info("combination: reusing %s %s on the data up to %s", name, how, data.end_date.date())
                return cache[_made(key, how)]
    if key not in cache:
        cache[key] = clone(template).fit(data)
    else:
        log.info("combination: reusing %s fitted on the same data up to %s", name, data.end_date.date())
    return cache[key]


def refresh_member(name: str, template: Forecaster, fitted: Forecaster, data: Dataset) -> Forecaster:
    """``fitted.refresh(data)``; inside :func:`shared_member_fits` a fit (or warm refit) of ``data`` if one
    was made, else the refresh, made once and kept for the next origins (which ask for this fold again)."""
    cache = MEMBER_FITS.get()
    if cache is None:
        return fitted.refresh(data)
    key = _key(name, template, data)
    for made in (key, _made(key, "refit")):
        if made in cache:
            return cache[made]
    if _made(key, "refreshed") not in cache:
        cache[_made(key, "refreshed")] = fitted.refresh(data)
    return cache[_made(key, "refreshed")]


def refit_member(name: str, template: Forecaster, fitted: Forecaster, data: Dataset) -> Forecaster:
    """``fitted.refit(data)``; inside :func:`shared_member_fits` a cold fit of ``data`` if one was made,
    else the warm refit, made once and kept for the next origins (whose holdout folds ask for it)."""
    cache = MEMBER_FITS.get()
    if cache is None:
        return fitted.refit(data)
    key = _key(name, template, data)
    if key in cache:
        return cache[key]
    if _made(key, "refit") not in cache:
        cache[_made(key, "refit")] = fitted.refit(data)
    return cache[_made(key, "refit")]


def _made(key: tuple[Any, ...], how: str) -> tuple[Any, ...]:
    """The key of a member made from another fit (``"refreshed"``, ``"refit"``) rather than fitted cold.

    The fingerprint stays last, where prune_member_fits reads the data's end.
    """
    return (f"{key[0]} ({how})", *key[1:])
