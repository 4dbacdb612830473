"""Combination: per series (or per segment) the member or blend that backtests best, then calibrated.

``fit`` runs an internal holdout: every member is fitted on the data minus the last ``holdout_days``
and forecasts them; each candidate (every member alone and equal-weight blends of members) is scored
by the scaled pinball loss; each series gets the best candidate (or its segment's best). The members
are then refitted on all the data, and the chosen candidates' holdout errors calibrate the quantiles
and the sample paths (:mod:`models.calibration`).

Blends average quantile functions (Vincentization). Sample paths of a blend pair the members' paths
by the rank of their horizon totals and average them, so the blend's totals are the average of the
members' total quantiles (the Vincentization of totals) and each path keeps a coherent day profile.
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from features.checks import flag, whole
from features.dataset import Dataset
from features.schema import M5_QUANTILES, SERIES_KEY, quantile_column
from models.base import Forecaster, ParamCheck, SamplePaths
from models.baselines import SeasonalNaive, demand_matrix
from models.calibration import CALIBRATION_LEVELS, LevelCalibrator, TotalsCalibrator
from models.losses import m5_scale, pinball_loss, safe_scale
from models.member_fits import fit_member

log = logging.getLogger(__name__)
KEY = list(SERIES_KEY)
SELECTIONS = ("per_series", "per_segment")
_MIN_CALIBRATION_OBS = 200
# The totals calibrator learns one factor: a random sample of series is evidence enough, and drawing
# holdout paths for all of a large catalogue's series would hold several GB.
_MAX_CALIBRATION_SERIES = 4000
# Series per block when blending and remapping paths (bounds the temporaries of the sort-based remap).
_PATH_BLOCK = 500
# Segment scores are shrunk toward the all-series score with the weight of this many series.
_POOL_SERIES = 30


def default_members(n_jobs: int = 1, random_state: int = 0) -> dict[str, Forecaster]:
    """The default members: seasonal naive, the global LightGBM, ETS and TSB."""
    from models.ets import ETSForecaster
    from models.intermittent import TSBForecaster
    from models.lightgbm_quantile import LightGBMQuantile

    members: dict[str, Forecaster] = {
        "seasonal_naive": SeasonalNaive(),
        "lightgbm": LightGBMQuantile(),
        "ets": ETSForecaster(),
        "tsb": TSBForecaster(),
    }
    for model in members.values():
        params = model.get_params(deep=False)
        if "n_jobs" in params:
            model.set_params(n_jobs=n_jobs)
        if "random_state" in params:
            model.set_params(random_state=random_state)
    return members


def segments(data: Dataset, window_days: int = 365) -> pd.Series:
    """Demand pattern per series over the last ``window_days``: the per-segment selection's groups.

    ``zero`` (never sold), ``short`` (< 56 observed days), then the Syntetos-Boylan classes by average
    demand interval (ADI, 1.32) and squared CV of non-zero sizes (0.49): ``intermittent`` (ADI high),
    ``erratic`` (sizes vary) or ``smooth``.

    Returns:
        Segment name per series, indexed like ``data.series()``.
    """
    _, y = demand_matrix(data)
    y = y[:, -window_days:]
    observed = (~np.isnan(y)).sum(axis=1)
    nonzero = (np.nan_to_num(y) > 0).sum(axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are classified below
        sizes = np.where(np.nan_to_num(y) > 0, y, np.nan)
        cv2 = np.nanvar(sizes, axis=1) / np.nanmean(sizes, axis=1) ** 2
        adi = observed / nonzero
    seg = np.where(adi >= 1.32, "intermittent", np.where(cv2 >= 0.49, "erratic", "smooth"))
    seg = np.where(observed < 56, "short", seg)
    seg = np.where(nonzero == 0, "zero", seg)
    return pd.Series(seg, name="segment")


class Combination(Forecaster):
    """Choose or blend member forecasts per series or segment by an internal holdout, then calibrate.

    Args:
        members: ``{name: unfitted Forecaster}``; None uses :func:`default_members`.
        selection: ``"per_segment"`` (each demand segment's best, see :func:`segments`; the default:
            on m5-tiny it beat per-series choices, a 28-day holdout being a noisy judge of one series)
            or ``"per_series"`` (each series' best, its score shrunk toward its segment's).
        holdout_days: Days held out at the end to score the members.
        holdout_folds: 1 or 2 consecutive holdout windows (2, the default, doubles the evidence and the
            fitting: on m5-tiny one 28-day window chose blend(lightgbm+ets) for most series, two chose
            LightGBM throughout, which was 2.5% better on the next 28 days).
        blends: Also consider the equal-weight blends of every subset of members, not only members.
        prefer_simpler: Per-segment selection only: among the candidates whose holdout SPL is within one
            standard error of the best (paired over the segment's series), take the one with the fewest
            members (then the lowest SPL). On m5-tiny the holdout preferred blend(lightgbm+ets) by
            0.5%, within noise, and it was 2.5% worse than LightGBM alone on the next 28 days.
        shrinkage: Per-series selection only: weight of the segment's pooled score against the
            series' own holdout score (0 trusts each series alone; large values act per segment).
        calibrate: Recalibrate quantiles and sample paths on the holdout errors.
        n_paths_calibration: Sample paths per series drawn on the holdout to calibrate totals.
        n_jobs: Threads/processes handed to every member that takes ``n_jobs``.
        random_state: Seed handed to the members and used for the holdout paths.

    Attributes:
        choice_: Index into ``candidates_`` of the candidate serving each series (``keys_`` order).
        holdout_scores_: Holdout SPL of every candidate per series, with its segment.
        fit_seconds_: Seconds spent per member (holdout fit and forecast, and refit).
        max_horizon_: The longest horizon all serving members can forecast (None: unlimited).
    """

    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "members": ParamCheck(
            lambda v: v is None or (isinstance(v, Mapping) and len(v) > 0
                                    and all(isinstance(m, Forecaster) for m in v.values())),
            "None or a non-empty dict of name -> Forecaster",
        ),
        "selection": ParamCheck(lambda v: v in SELECTIONS, f"one of {SELECTIONS}"),
        "holdout_days": whole(7, "a whole number of days >= 7"),
        "holdout_folds": ParamCheck(lambda v: v in (1, 2), "1 or 2"),
        "blends": flag(),
        "prefer_simpler": flag(),
        "shrinkage": ParamCheck(
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 0, "a number >= 0"
        ),
        "calibrate": flag(),
        "n_paths_calibration": whole(20),
        "n_jobs": whole(1, "a whole number of workers >= 1"),
        "random_state": whole(0, "a non-negative int seed"),
    }

    def __init__(
        self,
        *,
        members: dict[str, Forecaster] | None = None,
        selection: str = "per_segment",
        holdout_days: int = 28,
        holdout_folds: int = 2,
        blends: bool = True,
        prefer_simpler: bool = True,
        shrinkage: float = 3.0,
        calibrate: bool = True,
        n_paths_calibration: int = 200,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.selection = selection
        self.holdout_days = holdout_days
        self.holdout_folds = holdout_folds
        self.blends = blends
        self.prefer_simpler = prefer_simpler
        self.shrinkage = shrinkage
        self.calibrate = calibrate
        self.n_paths_calibration = n_paths_calibration
        self.n_jobs = n_jobs
        self.random_state = random_state

    @property
    def holdout_reach(self) -> int | None:
        """Days before the data's end of the first holdout origin (``holdout_days x holdout_folds``)."""
        return int(self.holdout_days) * int(self.holdout_folds)

    # ----------------------------------------------------------------------------------------- fit
    def _member_templates(self) -> dict[str, Forecaster]:
        if self.members is None:
            return default_members(self.n_jobs, self.random_state)
        templates = {}
        for name, model in self.members.items():
            model = clone(model)
            if "n_jobs" in model.get_params(deep=False):
                model.set_params(n_jobs=self.n_jobs)
            templates[str(name)] = model
        return templates

    def _candidates(self, names: list[str]) -> list[tuple[str, ...]]:
        sizes = range(1, len(names) + 1) if self.blends else range(1, 2)
        return [c for k in sizes for c in itertools.combinations(names, k)]

    def _fit(self, data: Dataset) -> None:
        templates = self._member_templates()
        keys = data.series()
        _, history = demand_matrix(data)
        self.keys_ = keys
        self.origin_ = data.end_date
        self.zero_history_ = ~(np.nan_to_num(history) > 0).any(axis=1)
        self.segments_ = segments(data).to_numpy()
        names = list(templates)
        self.candidates_ = self._candidates(names)
        self.fit_seconds_: dict[str, float] = {}
        holdout = self._holdout(data, templates, keys)
        if holdout is None:
            # Too little history for a holdout: the first member serves everything, uncalibrated.
            self.choice_ = np.zeros(len(keys), dtype=int)
            self.holdout_scores_ = pd.DataFrame()
            self.level_calibrators_: dict[int, LevelCalibrator] = {}
            self.totals_calibrator_: TotalsCalibrator | None = None
        else:
            self._choose_and_calibrate(data, holdout, templates)
        fitted = {}
        used = {m for c in {self.candidates_[i] for i in np.unique(self.choice_)} for m in c}
        for name in [n for n in names if n in used]:
            log.info("combination: refitting member %s on all data", name)
            t0 = time.perf_counter()
            fitted[name] = fit_member(name, templates[name], data)
            self.fit_seconds_[name] = self.fit_seconds_.get(name, 0.0) + time.perf_counter() - t0
        self.members_ = fitted
        # Capabilities of the serving members: the longest horizon all of them forecast (None: no
        # limit), the features any of them reads, the importances of the first one that has them.
        limits = [m.max_horizon_ for m in fitted.values() if m.max_horizon_ is not None]
        self.max_horizon_ = min(limits) if limits else None
        names_ = [n for m in fitted.values() for n in m.feature_names_ or []]
        self.feature_names_ = list(dict.fromkeys(names_)) or None
        self.feature_importances_ = next(
            (m.feature_importances_ for m in fitted.values() if m.feature_importances_ is not None), None
        )

    def _holdout(
        self, data: Dataset, templates: dict[str, Forecaster], keys: pd.DataFrame
    ) -> dict[str, Any] | None:
        """Fit members on truncated data; return holdout quantiles, actuals, scales and paths."""
        h = self.holdout_days
        span = int((data.end_date - data.start_date).days) + 1
        if span < h * self.holdout_folds + 2 * 7:
            log.warning(
                "combination: %d days of data are too few for a %d-day holdout; using member %r "
                "uncalibrated", span, h, next(iter(templates)),
            )
            return None
        levels = CALIBRATION_LEVELS
        n = len(keys)
        # float32: 30,000 series x 56 days x 26 levels is 350 MB a member in float64.
        quant = {name: np.full((n, h * self.holdout_folds, len(levels)), np.nan, dtype=np.float32)
                 for name in templates}
        actual = np.full((n, h * self.holdout_folds), np.nan)
        scale = np.ones(n)
        paths: dict[str, np.ndarray] = {}
        paths_keys = None
        sample_rng = np.random.default_rng(self.random_state)
        _, full = demand_matrix(data)
        train: Dataset | None = None
        model: Forecaster | None = None
        for fold in range(self.holdout_folds):
            cutoff = data.end_date - pd.Timedelta(days=h * (self.holdout_folds - fold))
            # Drop the previous fold's copy of the sales (and its last model) before making the next:
            # on 30,000 series x 730 days each copy is about a gigabyte.
            train = model = None
            train = data.truncate(cutoff)
            train_keys = train.series()
            rows = keys.reset_index().merge(train_keys, on=KEY)["index"].to_numpy()
            cut_col = full.shape[1] - h * (self.holdout_folds - fold)
            actual[:, fold * h : (fold + 1) * h] = full[:, cut_col : cut_col + h]
            actual[np.setdiff1d(np.arange(n), rows), fold * h : (fold + 1) * h] = np.nan
            if fold == 0:
                scale = self._scales(full[:, :cut_col])
            last = fold == self.holdout_folds - 1
            keep = np.arange(len(rows))
            if len(rows) > _MAX_CALIBRATION_SERIES:
                keep = np.sort(sample_rng.choice(len(rows), _MAX_CALIBRATION_SERIES, replace=False))
            if last:
                paths_keys = rows[keep]
            for name, template in templates.items():
                log.info("combination: holdout fold %d, fitting %s", fold + 1, name)
                t0 = time.perf_counter()
                model = fit_member(name, template, train)
                fc = _in_order(model.predict(h, levels), train_keys, h, name)
                cols = [quantile_column(q) for q in levels]
                quant[name][rows, fold * h : (fold + 1) * h] = fc[cols].to_numpy(float).reshape(
                    len(rows), h, len(levels)
                )
                if last and self.calibrate:
                    member_rows = _path_order(model.keys_, train_keys, name)[keep]
                    paths[name] = model.sample_paths(h, self.n_paths_calibration, self.random_state,
                                                     rows=member_rows).values
                self.fit_seconds_[name] = self.fit_seconds_.get(name, 0.0) + time.perf_counter() - t0
        return {"quant": quant, "actual": actual, "scale": scale, "paths": paths, "paths_rows": paths_keys}

    @staticmethod
    def _scales(history: np.ndarray) -> np.ndarray:
        raw = np.array([m5_scale(row) for row in history])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # unobserved series get the fallback scale
            level = np.nanmean(history, axis=1)
        return safe_scale(raw, level)

    def _blend_quantiles(self, quant: Mapping[str, np.ndarray], cand: tuple[str, ...]) -> np.ndarray:
        return np.mean([quant[m] for m in cand], axis=0)

    def _choose_and_calibrate(
        self, data: Dataset, holdout: dict[str, Any], templates: dict[str, Forecaster]
    ) -> None:
        quant, actual, scale = holdout["quant"], holdout["actual"], holdout["scale"]
        levels = np.asarray(CALIBRATION_LEVELS)
        m5_idx = [int(np.argmin(np.abs(levels - q))) for q in M5_QUANTILES]
        n, days = actual.shape
        y = actual.reshape(-1)
        ok = ~np.isnan(y)
        scores = np.full((n, len(self.candidates_)), np.nan)
        for c, cand in enumerate(self.candidates_):
            blend = self._blend_quantiles(quant, cand)[:, :, m5_idx].reshape(n * days, -1)
            loss = np.full(n * days, np.nan)
            loss[ok] = pinball_loss(y[ok], blend[ok], M5_QUANTILES).mean(axis=1)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # unscored series stay NaN
                scores[:, c] = np.nanmean(loss.reshape(n, days), axis=1) / scale
        self.choice_ = self._select(scores)
        choice = self.choice_
        self.holdout_scores_ = pd.DataFrame(
            scores, columns=[_label(c) for c in self.candidates_]
        ).assign(segment=self.segments_)
        self.level_calibrators_ = {}
        self.totals_calibrator_ = None
        if not self.calibrate:
            return
        # Each chosen candidate's map is learned on every series' holdout, not only on the series that
        # chose it: those were chosen for doing well on this very window, so their errors are optimistic
        # and would narrow the intervals.
        for c in np.unique(choice):
            vals = self._blend_quantiles(quant, self.candidates_[c]).reshape(-1, len(levels))
            self.level_calibrators_[int(c)] = LevelCalibrator(CALIBRATION_LEVELS, _MIN_CALIBRATION_OBS).fit(
                actual.reshape(-1), vals
            )
        if holdout["paths"]:
            prow = holdout["paths_rows"]
            h = self.holdout_days
            members = ((m, v, None) for m, v in holdout["paths"].items())
            values = self._remap(self._blend_paths(members, choice[prow]), choice[prow])
            act = actual[prow, -h:]
            act_total = np.where(np.isnan(act).any(axis=1), np.nan, act.sum(axis=1))
            self.totals_calibrator_ = TotalsCalibrator().fit(values.sum(axis=2), act_total)

    def _select(self, scores: np.ndarray) -> np.ndarray:
        """Candidate per series from holdout SPL ``(n_series, n_candidates)``, shrunk toward pools.

        A 28-day holdout is a noisy judge of one series, so each candidate's score is pooled the
        empirical-Bayes way: a segment's mean is shrunk toward the all-series mean with the weight of
        ``_POOL_SERIES`` series, and (per series) a series' own score toward its segment's mean with
        weight ``shrinkage``. Series without a holdout score take their segment's choice.
        """
        scored = ~np.isnan(scores).all(axis=1)
        if not scored.any():
            return np.zeros(len(scores), dtype=int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # candidates a series could not score
            overall = np.nanmean(scores[scored], axis=0)
            pooled = np.empty_like(scores)
            for seg in np.unique(self.segments_):
                in_seg = self.segments_ == seg
                members = scored & in_seg
                k = int(members.sum())
                seg_mean = np.nanmean(scores[members], axis=0) if k else overall
                pooled[in_seg] = (k * np.nan_to_num(seg_mean, nan=np.inf) + _POOL_SERIES * overall) / (
                    k + _POOL_SERIES
                )
        if self.selection == "per_segment":
            choice = np.argmin(pooled, axis=1)
            if self.prefer_simpler:
                for seg in np.unique(self.segments_):
                    in_seg = self.segments_ == seg
                    best = int(choice[in_seg][0])
                    rows = scores[scored & in_seg]
                    choice[in_seg] = self._simplest_within_se(rows, pooled[in_seg][0], best)
            return choice
        own = np.where(np.isnan(scores), pooled, scores)
        blended = (own + self.shrinkage * pooled) / (1.0 + self.shrinkage)
        return np.where(scored, np.argmin(blended, axis=1), np.argmin(pooled, axis=1))

    def _simplest_within_se(self, rows: np.ndarray, pooled: np.ndarray, best: int) -> int:
        """The fewest-member candidate within one paired standard error of ``best`` on ``rows``."""
        if len(rows) < 2:
            return best
        diff = rows - rows[:, [best]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # candidates no series could score
            count = (~np.isnan(diff)).sum(axis=0)
            mean = np.nanmean(diff, axis=0)
            se = np.nanstd(diff, axis=0, ddof=1) / np.sqrt(np.maximum(count, 1))
        close = np.flatnonzero((count >= 2) & (mean <= se))
        if close.size == 0:
            return best
        sizes = np.array([len(self.candidates_[c]) for c in close])
        return int(min(zip(sizes, pooled[close], close, strict=True))[2])

    # ------------------------------------------------------------------------------------ predict
    def _blend_paths(
        self, member_paths: Iterable[tuple[str, np.ndarray, np.ndarray | None]], choice: np.ndarray
    ) -> np.ndarray:
        """Per series, average the chosen members' paths paired by the rank of their totals.

        Args:
            member_paths: ``(name, values, order)`` per member, where ``values[order]`` (or ``values``
                when ``order`` is None) are in ``choice`` order. A generator keeps one member's paths
                in memory at a time.
            choice: Candidate index per series.
        """
        out: np.ndarray | None = None
        for name, values, order in member_paths:
            if out is None:
                out = np.zeros((len(choice), values.shape[1], values.shape[2]), dtype=np.float32)
            uses = np.flatnonzero([name in self.candidates_[c] for c in choice])
            for sel in _blocks(uses):
                v = values[sel if order is None else order[sel]]
                rank = np.argsort(v.sum(axis=2), axis=1, kind="stable")
                out[sel] += np.take_along_axis(v, rank[:, :, None], axis=1)
        assert out is not None
        out /= np.array([len(self.candidates_[c]) for c in choice], dtype=np.float32)[:, None, None]
        return out

    def _remap(self, values: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """The calibrators' level maps applied to each chosen candidate's series, in place."""
        for c, calibrator in self.level_calibrators_.items():
            for sel in _blocks(np.flatnonzero(choice == c)):
                values[sel] = calibrator.remap_paths(values[sel])
        return values

    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        levels = tuple(sorted(set(CALIBRATION_LEVELS) | set(quantiles)))
        cols = [quantile_column(q) for q in levels]
        n = len(self.keys_)
        quant: dict[str, np.ndarray] = {}
        means: dict[str, np.ndarray] = {}
        frame = None
        for name, model in self.members_.items():
            fc = _in_order(model.predict(horizon, levels), self.keys_, horizon, name)
            if frame is None:
                frame = fc[[*KEY, "date"]].astype({"sku": str, "channel": str})
            quant[name] = fc[cols].to_numpy(float).reshape(n, horizon, len(levels))
            means[name] = fc["mean"].to_numpy(float).reshape(n, horizon)
        assert frame is not None
        out_q = np.empty((n, horizon, len(quantiles)))
        out_mean = np.empty((n, horizon))
        labels = np.empty(n, dtype=object)
        for c in np.unique(self.choice_):
            sel = self.choice_ == c
            cand = self.candidates_[c]
            blend = np.mean([quant[m][sel] for m in cand], axis=0)
            out_mean[sel] = np.mean([means[m][sel] for m in cand], axis=0)
            calibrator = self.level_calibrators_.get(int(c))
            if calibrator is not None:
                out_q[sel] = calibrator.quantiles(
                    _regrid(blend, levels, CALIBRATION_LEVELS), quantiles
                )
            else:
                out_q[sel] = blend[:, :, [levels.index(q) for q in quantiles]]
            labels[sel] = f"combination:{_label(cand)}"
        out_q[self.zero_history_] = 0.0
        out_mean[self.zero_history_] = 0.0
        labels[self.zero_history_] = "combination:zero_history"
        result = frame.reset_index(drop=True).copy()
        result["mean"] = out_mean.reshape(-1)
        for j, q in enumerate(quantiles):
            result[quantile_column(q)] = out_q[:, :, j].reshape(-1)
        result["model"] = np.repeat(labels, horizon)
        return result

    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        seeds = rng.integers(0, 2**31 - 1, size=len(self.members_))
        choice = self.choice_[rows]
        needed = {m for c in np.unique(choice) for m in self.candidates_[c]}
        # All series in their own order: draw every member whole (no subset bookkeeping).
        every = len(rows) == len(self.keys_) and bool((rows == np.arange(len(rows))).all())

        def drawn() -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
            # One member's paths at a time: for 30,000 series x 300 paths each is 1 GB.
            for (name, model), seed in zip(self.members_.items(), seeds, strict=True):
                if name not in needed:
                    continue
                if every:
                    sp = model.sample_paths(horizon, n_paths, int(seed))
                    yield name, sp.values, _path_order(sp.keys, self.keys_, name)
                else:
                    # Only the members' rows of the wanted series are drawn, already in ``rows`` order.
                    member_rows = _path_order(model.keys_, self.keys_, name)[rows]
                    yield name, model.sample_paths(horizon, n_paths, int(seed), rows=member_rows).values, None

        values = self._blend_paths(drawn(), choice)
        if self.level_calibrators_:
            values = self._remap(values, choice)
        if self.totals_calibrator_ is not None:
            values = self.totals_calibrator_.apply(values)
        zero = self.zero_history_[rows]
        values[zero] = 0.0
        np.clip(values, 0, None, out=values)
        labels = np.array([f"combination:{_label(self.candidates_[c])}" for c in choice], dtype=object)
        labels[zero] = "combination:zero_history"
        return SamplePaths(
            keys=self.keys_.iloc[rows].reset_index(drop=True), start=self._start(), values=values,
            model=labels,
        )

    def _start(self) -> pd.Timestamp:
        return self.origin_ + pd.Timedelta(days=1)


def _blocks(index: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(index), _PATH_BLOCK):
        yield index[start : start + _PATH_BLOCK]


def _path_order(member_keys: pd.DataFrame, keys: pd.DataFrame, name: str) -> np.ndarray:
    """Row positions that put a member's series into ``keys`` order (members may order differently)."""
    mk = member_keys[KEY].astype(str).reset_index(drop=True).reset_index()
    pos = keys[KEY].astype(str).merge(mk, on=KEY, how="left")["index"]
    if pos.isna().any() or len(mk) != len(keys):
        raise RuntimeError(
            f"Member {name!r} did not forecast every fitted series ({len(mk)} of {len(keys)}): every "
            "member must forecast every series of the data it was fitted on."
        )
    return pos.to_numpy(dtype=int)


def _in_order(frame: pd.DataFrame, keys: pd.DataFrame, horizon: int, name: str) -> pd.DataFrame:
    """A member's forecast rows reordered to ``keys`` order, ``horizon`` dated rows per series."""
    if len(frame) != len(keys) * horizon:
        raise RuntimeError(
            f"Member {name!r} forecast {len(frame)} rows, expected {len(keys)} series x {horizon} days: "
            "every member must forecast every series of the fitted data."
        )
    order = _path_order(frame[KEY].iloc[::horizon], keys, name)
    rows = (order[:, None] * horizon + np.arange(horizon)[None, :]).reshape(-1)
    return frame.iloc[rows].reset_index(drop=True)


def _label(cand: tuple[str, ...]) -> str:
    return cand[0] if len(cand) == 1 else f"blend({'+'.join(cand)})"


def _regrid(values: np.ndarray, levels: tuple[float, ...], target: tuple[float, ...]) -> np.ndarray:
    """Pick the columns of ``values`` (at ``levels``) that sit at the ``target`` levels."""
    return values[..., [levels.index(q) for q in target]]
