"""Segment changes: tell planners when a SKU-channel moves class, without flapping.

A series whose weekly CV wobbles around 0.5 would otherwise flip between X and Y every week.
:func:`apply_hysteresis` keeps the previous class until the figure crosses the cut-off by a relative
``margin`` (a dead band around each cut-off); :func:`segment_changes` then emits one alert per class
that really changed, with the old and new class, the figures behind it and the date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from features.checks import is_number
from features.demand_pattern import ADI_CUTOFF, CV2_CUTOFF, PATTERN_BY_SIDES
from features.schema import SERIES_KEY
from forecasting.signals.alerts import make_alert

SEGMENT_FIELDS: Final = ("abc", "xyz", "pattern", "policy")
# The figures shown with an alert, when the segmentation has them.
FIGURES: Final = ("revenue", "revenue_share", "abc_position", "weekly_mean", "weekly_cv", "adi", "cv2")


@dataclass(frozen=True)
class Threshold:
    """Cut-offs of one class dimension over one figure, classes in increasing order of the figure.

    Attributes:
        figure: Column holding the figure (``abc_position`` is derived from ``revenue`` if absent).
        cutoffs: Increasing cut-offs.
        labels: One label more than cut-offs: the class below the first cut-off, ..., above the last.
    """

    figure: str
    cutoffs: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.cutoffs) + 1 or list(self.cutoffs) != sorted(self.cutoffs):
            raise ValueError(
                f"The Threshold on '{self.figure}' needs increasing cut-offs and one label more than "
                f"cut-offs. Got cutoffs {list(self.cutoffs)} and labels {list(self.labels)}."
            )


@dataclass(frozen=True)
class PatternThreshold:
    """The Syntetos-Boylan pattern: two thresholds (ADI, CV²) whose sides name the pattern.

    Attributes:
        adi: Cut-off of the average demand interval (above: intermittent or lumpy).
        cv2: Cut-off of the squared CV of demand sizes (above: erratic or lumpy).
    """

    adi: float = ADI_CUTOFF
    cv2: float = CV2_CUTOFF


PATTERN_NAMES: Final = PATTERN_BY_SIDES


DEFAULT_THRESHOLDS: Final[Mapping[str, Threshold | PatternThreshold]] = {
    "abc": Threshold("abc_position", (0.80, 0.95), ("A", "B", "C")),
    "xyz": Threshold("weekly_cv", (0.5, 1.0), ("X", "Y", "Z")),
    "pattern": PatternThreshold(),
}


def thresholds_from_config(config: Any) -> dict[str, Threshold | PatternThreshold]:
    """Thresholds matching a ``forecasting.inventory.segmentation.SegmentationConfig`` (or any object with
    ``abc_cutoffs, xyz_cutoffs, adi_cutoff, cv2_cutoff``)."""
    return {
        "abc": Threshold("abc_position", tuple(config.abc_cutoffs), ("A", "B", "C")),
        "xyz": Threshold("weekly_cv", tuple(config.xyz_cutoffs), ("X", "Y", "Z")),
        "pattern": PatternThreshold(float(config.adi_cutoff), float(config.cv2_cutoff)),
    }


def apply_hysteresis(
    previous: pd.DataFrame | None,
    current: pd.DataFrame,
    thresholds: Mapping[str, Threshold | PatternThreshold] = DEFAULT_THRESHOLDS,
    margin: float = 0.1,
) -> pd.DataFrame:
    """Stabilise a new segmentation against the previous one.

    A class moves only when its figure is past the cut-off by ``margin`` times the cut-off: moving
    up needs ``figure > cut * (1 + margin)``, moving down needs ``figure <= cut * (1 - margin)``.
    Inside that band the previous class stays. New series and unknown figures keep the current class.

    Args:
        previous: The last stored segmentation (``sku, channel`` and the class columns), or None.
        current: The new segmentation with the figures (``weekly_cv``, ``adi``, ``cv2``, ``revenue``).
        thresholds: Class column -> its :class:`Threshold` or :class:`PatternThreshold`.
        margin: Relative dead band around each cut-off, in [0, 1).

    Returns:
        A copy of ``current`` with stabilised class columns and ``abc_position`` (the cumulative
        revenue share before the series, the figure ABC is cut on).

    Raises:
        ValueError: If ``margin`` is out of range or ``current`` lacks the key columns.
    """
    if not is_number(margin) or not 0.0 <= margin < 1.0:
        raise ValueError(f"The 'margin' of apply_hysteresis must be in [0, 1), e.g. 0.1. Got {margin!r}.")
    _check_keys(current, "current")
    out = _with_abc_position(current)
    if previous is None or previous.empty or margin == 0.0:
        return out
    _check_keys(previous, "previous")
    prev = out[list(SERIES_KEY)].merge(previous, on=list(SERIES_KEY), how="left", suffixes=("", "_prev"))
    for column, rule in thresholds.items():
        if column not in out or column not in prev:
            continue
        old = prev[column].to_numpy(dtype=object)
        if isinstance(rule, PatternThreshold):
            out[column] = _hold_pattern(out, old, rule, margin)
        elif rule.figure in out:
            figure = out[rule.figure].to_numpy(dtype=float)
            out[column] = _hold(figure, old, out[column].to_numpy(dtype=object), rule.cutoffs, rule.labels,
                                margin)
    return out


def segment_changes(
    previous: pd.DataFrame | None,
    current: pd.DataFrame,
    *,
    margin: float = 0.1,
    thresholds: Mapping[str, Threshold | PatternThreshold] = DEFAULT_THRESHOLDS,
    as_of: pd.Timestamp | str | None = None,
) -> list[dict[str, Any]]:
    """One alert per class that changed between the last stored segmentation and the new one.

    Hysteresis (:func:`apply_hysteresis`) is applied first, so a series hugging a cut-off does not
    flap. The ``policy`` column is compared as given: compute policies from stabilised segments.

    Args:
        previous: The last stored segmentation (e.g. ``ResultStore.get_segments()``), or None.
        current: The new segmentation (``forecasting.inventory.segmentation.segment`` plus ``policy``).
        margin: Relative dead band around each cut-off.
        thresholds: Cut-offs per class column.
        as_of: Date of the new segmentation; defaults to its ``as_of`` column, else today.

    Returns:
        Alert dicts of type ``segment_change``: payload ``field, old, new, as_of, previous_as_of`` and
        the figures; the dedup key names the transition and the previous state's date, so re-running
        against the same stored state never repeats an alert. Series new in ``current`` are not
        changes.
    """
    stable = apply_hysteresis(previous, current, thresholds, margin)
    if previous is None or previous.empty:
        return []
    date = _as_of(stable, as_of)
    merged = stable.merge(previous, on=list(SERIES_KEY), how="inner", suffixes=("", "_prev"))
    prev_dates = (pd.to_datetime(merged["as_of_prev"]) if "as_of_prev" in merged
                  else pd.Series(pd.NaT, index=merged.index))
    alerts: list[dict[str, Any]] = []
    for field in SEGMENT_FIELDS:
        old_col = f"{field}_prev"
        if field not in merged or old_col not in merged:
            continue
        changed = merged[field].notna() & merged[old_col].notna() & (
            merged[field].astype(str) != merged[old_col].astype(str)
        )
        for i in np.flatnonzero(changed.to_numpy()):
            row = merged.iloc[i]
            prev_date = prev_dates.iloc[i]
            prev_text = "" if pd.isna(prev_date) else f"{pd.Timestamp(prev_date):%Y-%m-%d}"
            old, new = str(row[old_col]), str(row[field])
            figures = {f: _figure(row.get(f)) for f in FIGURES if f in row.index}
            alerts.append(make_alert(
                "segment_change", _severity(field, old, new), str(row["sku"]), str(row["channel"]),
                {"field": field, "old": old, "new": new, "as_of": f"{date:%Y-%m-%d}",
                 "previous_as_of": prev_text or None, "figures": figures,
                 "message": f"{row['sku']}/{row['channel']}: {field} {old} -> {new}"},
                dedup_key=f"segment_change|{row['sku']}|{row['channel']}|{field}|{old}->{new}|{prev_text}",
            ))
    return alerts


def _check_keys(frame: pd.DataFrame, name: str) -> None:
    missing = [c for c in SERIES_KEY if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The '{name}' segmentation lacks the column(s) {missing}. Pass the output of "
            "forecasting.inventory.segmentation.segment (one row per sku, channel)."
        )


def _with_abc_position(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``abc_position``: the share of revenue of all series ranked before this one."""
    out = frame.copy()
    if "abc_position" in out or "revenue" not in out:
        return out
    revenue = out["revenue"].fillna(0.0).to_numpy(dtype=float)
    total = revenue.sum()
    if total <= 0:
        out["abc_position"] = 1.0
        return out
    order = np.argsort(-revenue, kind="stable")
    preceding = np.empty_like(revenue)
    preceding[order] = (np.cumsum(revenue[order]) - revenue[order]) / total
    # Zero revenue is always C, whatever its rank.
    out["abc_position"] = np.where(revenue > 0, preceding, 1.0)
    return out


def _hold(
    figure: np.ndarray, old: np.ndarray, raw: np.ndarray, cutoffs: tuple[float, ...], labels: tuple[str, ...],
    margin: float,
) -> np.ndarray:
    """Stabilised labels of one dimension (see :func:`apply_hysteresis`)."""
    index = {label: k for k, label in enumerate(labels)}
    prev = np.array([index.get(str(v), -1) if isinstance(v, str) else -1 for v in old])
    cuts = np.asarray(cutoffs, dtype=float)
    with np.errstate(invalid="ignore"):
        reach_up = (figure[:, None] > cuts * (1.0 + margin)).sum(axis=1)
        reach_down = (figure[:, None] > cuts * (1.0 - margin)).sum(axis=1)
    new = np.where(reach_up > prev, reach_up, np.where(reach_down < prev, reach_down, prev))
    keep_raw = (prev < 0) | np.isnan(figure)
    return np.where(keep_raw, raw, np.asarray(labels, dtype=object)[np.clip(new, 0, len(labels) - 1)])


def _hold_pattern(frame: pd.DataFrame, old: np.ndarray, rule: PatternThreshold, margin: float) -> np.ndarray:
    """Stabilised Syntetos-Boylan pattern: hysteresis on ADI and on CV² separately."""
    raw = frame["pattern"].to_numpy(dtype=object)
    if "adi" not in frame or "cv2" not in frame:
        return raw
    sides = {name: side for side, name in PATTERN_NAMES.items()}
    prev_adi = np.array([str(sides[v][0]) if v in sides else "" for v in old], dtype=object)
    prev_cv2 = np.array([str(sides[v][1]) if v in sides else "" for v in old], dtype=object)
    adi = frame["adi"].to_numpy(dtype=float)
    # No demand at all reads as the most intermittent, as in segmentation.
    adi = np.where(np.isnan(adi), np.inf, adi)
    cv2 = np.nan_to_num(frame["cv2"].to_numpy(dtype=float), nan=0.0)
    raw_adi = (adi > rule.adi).astype(int).astype(str).astype(object)
    raw_cv2 = (cv2 > rule.cv2).astype(int).astype(str).astype(object)
    new_adi = _hold(adi, prev_adi, raw_adi, (rule.adi,), ("0", "1"), margin)
    new_cv2 = _hold(cv2, prev_cv2, raw_cv2, (rule.cv2,), ("0", "1"), margin)
    held = np.array([PATTERN_NAMES[(int(a), int(c))] for a, c in zip(new_adi, new_cv2, strict=True)],
                    dtype=object)
    return np.where(pd.isna(old) | (prev_adi == ""), raw, held)


def _as_of(frame: pd.DataFrame, as_of: pd.Timestamp | str | None) -> pd.Timestamp:
    if as_of is not None:
        return pd.Timestamp(as_of)
    if "as_of" in frame and frame["as_of"].notna().any():
        return pd.Timestamp(pd.to_datetime(frame["as_of"]).max())
    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()


def _severity(field: str, old: str, new: str) -> str:
    # A policy change or an item entering/leaving class A changes how it is stocked: act on it.
    if field == "policy" or (field == "abc" and "A" in (old, new)):
        return "warning"
    return "info"


def _figure(value: object) -> object:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value
