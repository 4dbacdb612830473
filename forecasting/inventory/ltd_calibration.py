"""Closed-loop calibration of lead-time demand: plan at the level the realized totals say hits the target.

The reorder point is a quantile of demand over lead time + review period, so that quantity, not only
the daily quantiles, must be calibrated. Every plan records, per series, its sample paths' totals over
``H = ceil(mean lead time) + R`` days from the plan's origin. Once those ``H`` days have been observed,
the realized total is scored by its randomized PIT (probability integral transform): the share of path
totals below it, ties split uniformly, so a calibrated forecaster gives uniform PITs also for
intermittent demand with many zero totals.

PITs are pooled by group (demand pattern x lead-time bucket: short <= 7 days, long > 21, medium
between). For a target level ``t`` the level to plan at is the PIT distribution's ``t`` quantile:
if realized totals fell under the planned 0.9 quantile only 85% of the time, the plan moves up to the
level under which 90% of them fell. With ``m`` PITs in a group the correction is shrunk towards ``t``
with weight ``m / (m + prior_weight)``, and the level is kept in ``[min_level, max_level]``.

:func:`coverage_table` reports, per group, how often the realized totals fell under the planned
quantile at each target before correction (the service the uncorrected plan would have delivered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.inventory.safety_stock import extend_paths

SHORT_DAYS = 7.0
LONG_DAYS = 21.0


def lead_bucket(lead_mean: np.ndarray) -> np.ndarray:
    """'short' (<= 7 days), 'medium' or 'long' (> 21 days) per mean lead time."""
    lead = np.asarray(lead_mean, dtype=float)
    return np.where(lead <= SHORT_DAYS, "short", np.where(lead > LONG_DAYS, "long", "medium")).astype(object)


def calibration_groups(pattern: pd.Series | np.ndarray, lead_mean: np.ndarray) -> np.ndarray:
    """Group label ``<pattern>/<lead bucket>`` per series."""
    return (np.asarray(pattern, dtype=object).astype(str) + "/" + lead_bucket(lead_mean)).astype(object)


def horizon_totals(values: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Per-path demand over each series' first ``horizons[i]`` days: ``(n, n_paths)``."""
    cum = np.cumsum(extend_paths(values, int(horizons.max(initial=1))), axis=2, dtype=np.float64)
    return np.take_along_axis(cum, (horizons - 1)[:, None, None], axis=2)[..., 0]


def randomized_pit(totals: np.ndarray, realized: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Share of each row's path totals below the realized value, ties counted with a uniform draw."""
    below = (totals < realized[:, None] - 1e-9).sum(axis=1)
    ties = (np.abs(totals - realized[:, None]) <= 1e-9).sum(axis=1)
    return (below + rng.random(len(realized)) * ties) / totals.shape[1]


@dataclass
class _Record:
    origin: int
    rows: np.ndarray
    horizons: np.ndarray
    totals: np.ndarray
    groups: np.ndarray
    scored: np.ndarray


@dataclass
class LeadTimeDemandCalibration:
    """PITs of realized lead-time demand per group, and the planning levels they imply.

    Args:
        prior_weight: PITs that weigh as much as the uncorrected target (shrinkage).
        min_level: Lowest level planned at.
        max_level: Highest level planned at.
        seed: Seed of the tie-breaking draws.
    """

    prior_weight: float = 30.0
    min_level: float = 0.5
    max_level: float = 0.995
    seed: int = 0
    records: list[_Record] = field(default_factory=list)
    pits: dict[str, list[float]] = field(default_factory=dict)

    def record(self, origin: int, rows: np.ndarray, values: np.ndarray, horizons: np.ndarray,
               groups: np.ndarray) -> None:
        """Keep a plan's path totals over each series' horizon.

        Args:
            origin: Index (in the caller's day axis) of the plan's first forecast day.
            rows: Series rows (in the caller's series axis) of the paths.
            values: ``(len(rows), n_paths, h)`` demand paths.
            horizons: Days per series (lead time + review period), >= 1.
            groups: Group label per series.
        """
        horizons = np.maximum(np.asarray(horizons, dtype=np.int64), 1)
        self.records.append(_Record(origin, np.asarray(rows), horizons, horizon_totals(values, horizons),
                                    np.asarray(groups, dtype=object), np.zeros(len(rows), dtype=bool)))

    def update(self, demand: np.ndarray) -> int:
        """Score every recorded series whose horizon is now observed.

        Args:
            demand: ``(n_series, t)`` observed daily demand up to now (NaN = not observed: such windows
                are dropped, a censored day says nothing about demand).

        Returns:
            PITs added.
        """
        rng = np.random.default_rng([self.seed, len(self.records), demand.shape[1]])
        added = 0
        for rec in self.records:
            due = ~rec.scored & (rec.origin + rec.horizons <= demand.shape[1])
            if not due.any():
                continue
            rec.scored |= due
            idx = np.flatnonzero(due)
            window = demand[rec.rows[idx]]
            zero = np.zeros((len(idx), 1))
            cum = np.concatenate([zero, np.cumsum(np.nan_to_num(window), axis=1)], axis=1)
            gaps = np.concatenate([zero, np.cumsum(np.isnan(window), axis=1)], axis=1)
            end, at = rec.origin + rec.horizons[idx], np.arange(len(idx))
            realized = cum[at, end] - cum[:, rec.origin]
            ok = (gaps[at, end] - gaps[:, rec.origin]) == 0
            pit = randomized_pit(rec.totals[idx[ok]], realized[ok], rng)
            for group, value in zip(rec.groups[idx[ok]], pit, strict=True):
                self.pits.setdefault(str(group), []).append(float(value))
            added += int(ok.sum())
        self.records = [r for r in self.records if not r.scored.all()]
        return added

    def levels(self, groups: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Level to plan at per series so that realized lead-time demand stays under it at ``targets``."""
        targets = np.asarray(targets, dtype=float)
        out = targets.copy()
        groups = np.asarray(groups, dtype=object)
        for group in np.unique(groups):
            pits = np.asarray(self.pits.get(str(group), []))
            if len(pits) == 0:
                continue
            rows = np.flatnonzero(groups == group)
            weight = len(pits) / (len(pits) + self.prior_weight)
            mapped = np.quantile(pits, targets[rows])
            out[rows] = weight * mapped + (1.0 - weight) * targets[rows]
        return np.clip(out, self.min_level, self.max_level)

    def coverage_table(self, targets: tuple[float, ...]) -> pd.DataFrame:
        """Per group: PITs scored and the share under each target (the uncorrected plan's coverage)."""
        rows = []
        for group, pits in sorted(self.pits.items()):
            values = np.asarray(pits)
            row: dict[str, object] = {"group": group, "n": len(values)}
            for t in targets:
                row[f"covered@{t:g}"] = float((values <= t).mean())
                level = self.levels(np.array([group], dtype=object), np.array([t]))
                row[f"plan_level@{t:g}"] = float(level[0])
            rows.append(row)
        return pd.DataFrame(rows)


__all__ = ["LeadTimeDemandCalibration", "calibration_groups", "horizon_totals", "lead_bucket",
           "randomized_pit"]
