"""Combination: a weighted quantile average of the members per demand segment, then calibrated.

``fit`` runs rolling holdouts: every member is fitted on the data minus the last ``holdout_days`` x
``holdout_folds`` days and forecasts the next ``holdout_days``, and so on for each fold; members that
can be re-anchored (LightGBM) are fitted once, at the first origin, and refreshed at the later ones.
Per demand segment the weights are an equal-weight average of the members that pass a sanity check,
mixed with stacked weights as far as that held up across the folds (:mod:`models.combination_weights`);
the holdout loss weighs series by revenue, as the M5 WSPL does, where every series has prices. The
earlier design picked one member or blend per segment on a short holdout, a noisy judge that picked
LightGBM for every series of a retail dataset where an equal-weight LightGBM + TSB blend was 2.3%
better. Members are then refitted on all the data (LightGBM and ETS warm, from their last holdout
fit; with ``reanchor_final=True`` those fits are re-anchored instead), and the blend's holdout
errors calibrate the quantiles and the sample paths per segment (:mod:`models.calibration`).

Blends average quantile functions (Vincentization). Sample paths of a blend pair the members' paths
by the rank of their horizon totals and average them with the weights, so the blend's totals are the
weighted average of the members' total quantiles and each path keeps a coherent day profile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from features.checks import flag, is_whole, one_of, whole
from features.dataset import Dataset
from features.schema import M5_QUANTILES, SERIES_KEY, quantile_column
from models.base import Forecaster, ParamCheck, SamplePaths
from models.calibration import CALIBRATION_LEVELS, LevelCalibrator, TotalsCalibrator
from models.combination_inputs import default_members, revenue_weights, segments
from models.combination_weights import WeightEstimator
from models.losses import panel_scales
from models.member_fits import fit_member, refit_member, refresh_member, report_progress
from models.member_frames import blocks as _blocks
from models.member_frames import in_order as _in_order
from models.member_frames import path_order as _path_order
from models.member_frames import regrid as _regrid
from models.member_frames import weights_label as _weights_label

log = logging.getLogger(__name__)
KEY = list(SERIES_KEY)
WEIGHTINGS = ("stacked", "equal")
LOSS_WEIGHTS = ("revenue", "equal")
HOLDOUT_REFITS = ("first", "warm", "each")
MAX_FOLDS = 4
_MIN_CALIBRATION_OBS = 200
# A segment with fewer holdout observations than this uses the all-series level map.
_MIN_SEGMENT_OBS = 2000
# The totals calibrator learns one factor: a random sample of series is evidence enough, and drawing
# holdout paths for all of a large catalogue's series would hold several GB.
_MAX_CALIBRATION_SERIES = 4000


class Combination(Forecaster):
    """Weighted quantile average of the members per demand segment, weights from rolling holdouts.

    Args:
        members: ``{name: unfitted Forecaster}``; None uses :func:`default_members`.
        holdout_days: Days of each holdout window.
        holdout_folds: Consecutive holdout windows (1 to 4) the weights and calibration are learned on.
        weighting: ``"stacked"`` (stacked weights shrunk towards the equal-weight average, see
            :mod:`models.combination_weights`) or ``"equal"`` (the equal-weight average of the members
            that pass the sanity check).
        shrinkage: Weight of the equal-weight average in the final weights, in [0, 1]; None (default)
            chooses it by cross-validation over the holdout folds.
        sanity_ratio: A member joins a segment's equal-weight average when its holdout SPL is at most
            this times the segment's best member's (>= 1).
        loss_weights: How series count in the holdout loss the weights minimise: ``"revenue"`` (default)
            by their revenue over the 28 days before the first holdout origin, as the M5 WSPL weighs
            them, when every series has prices (equal otherwise); ``"equal"``: alike.
        holdout_refits: ``"warm"`` (default): members that are ``refreshable`` (LightGBM, ETS) are
            fitted once, at the first holdout origin; at the later origins the ``warm_refittable`` ones are
            refitted warm from that fit, the kind of fit that will serve (the final fit continues the same
            cold fit), so the weights and the calibration see the served fit's tails. Against ``"first"``:
            m5-tiny WSPL 0.2950 vs 0.2950 (28-day totals' 95% quantile covering 93.9% vs 92.9% of series),
            synthetic 0.2811 vs 0.2814, online retail 0.3720 vs 0.3731, for a warm refit more (6 s). Inside
            :func:`models.member_fits.shared_member_fits` (rolling backtests and re-plans) a fold that an
            earlier origin fitted on all its data reuses that fit, and refreshes and warm refits are
            shared like fits. ``"first"`` re-anchors the later folds (scored from parameters up to
            ``holdout_days`` older than a refit's); ``"each"`` fits every fold cold.
        reanchor_final: ``refreshable`` members (LightGBM, ETS) serve from their holdout fit re-anchored at
            the end of the data instead of being refitted: a standalone fit then trains one LightGBM
            model instead of two. Off by default: boosters ``holdout_days x holdout_folds`` days old
            cost accuracy (m5-tiny WSPL 0.3031 instead of 0.2974 with two 28-day folds).
        warm_refits: ``warm_refittable`` members are refitted on all the data warm-started from their
            last holdout fit instead of cold. ETS keeps its forms and starts its optimizer at its
            parameters (alone, warm vs cold, WSPL: m5-tiny 0.3337 vs 0.3357, online retail 0.4310 vs
            0.4298, synthetic 0.3155 vs 0.3147, at half the time); LightGBM's boosters continue for
            a few rounds on recent rows (alone: m5-tiny 0.2963 vs 0.2964, online retail 0.3828 vs 0.3941,
            synthetic 0.2814 vs 0.2892, at a tenth to a third of the time). See the members' ``refit``.
        calibrate: Recalibrate quantiles and sample paths on the holdout errors.
        n_paths_calibration: Sample paths per series drawn on the holdout to calibrate totals.
        n_jobs: Threads/processes handed to every member that takes ``n_jobs``.
        random_state: Seed handed to the members and used for the holdout paths.

    Attributes:
        weights_: ``(n_series, n_members)`` weight of each member per series (``keys_`` order).
        member_names_: Member names, the columns of ``weights_``.
        weight_table_: Per segment: series, each member's holdout SPL, sane members, equal, stacked and
            final weights.
        shrinkage_: The shrinkage used; ``cv_loss_`` the held-out SPL of each candidate shrinkage.
        fit_seconds_: Seconds spent per member (holdout fits and forecasts, and refits).
        max_horizon_: The longest horizon all serving members can forecast (None: unlimited).
    """

    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "members": ParamCheck(
            lambda v: v is None or (isinstance(v, Mapping) and len(v) > 0
                                    and all(isinstance(m, Forecaster) for m in v.values())),
            "None or a non-empty dict of name -> Forecaster",
        ),
        "holdout_days": whole(7, "a whole number of days >= 7"),
        "holdout_folds": ParamCheck(lambda v: is_whole(v, 1, MAX_FOLDS),
                                    f"a whole number in 1..{MAX_FOLDS}"),
        "weighting": one_of(WEIGHTINGS),
        "shrinkage": ParamCheck(
            lambda v: v is None or (isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1),
            "None (cross-validated) or a number in [0, 1]",
        ),
        "sanity_ratio": ParamCheck(
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 1, "a number >= 1"
        ),
        "loss_weights": one_of(LOSS_WEIGHTS),
        "holdout_refits": one_of(HOLDOUT_REFITS),
        "reanchor_final": flag(),
        "warm_refits": flag(),
        "calibrate": flag(),
        "n_paths_calibration": whole(20),
        "n_jobs": whole(1, "a whole number of workers >= 1"),
        "random_state": whole(0, "a non-negative int seed"),
    }

    def __init__(
        self,
        *,
        members: dict[str, Forecaster] | None = None,
        holdout_days: int = 28,
        holdout_folds: int = 2,
        weighting: str = "stacked",
        shrinkage: float | None = None,
        sanity_ratio: float = 1.25,
        loss_weights: str = "revenue",
        holdout_refits: str = "warm",
        reanchor_final: bool = False,
        warm_refits: bool = True,
        calibrate: bool = True,
        n_paths_calibration: int = 200,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.holdout_days = holdout_days
        self.holdout_folds = holdout_folds
        self.weighting = weighting
        self.shrinkage = shrinkage
        self.sanity_ratio = sanity_ratio
        self.loss_weights = loss_weights
        self.holdout_refits = holdout_refits
        self.reanchor_final = reanchor_final
        self.warm_refits = warm_refits
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

    def _fit(self, data: Dataset) -> None:
        templates = self._member_templates()
        keys = data.series()
        history = data.panel().units
        self.keys_ = keys
        self.origin_ = data.end_date
        self.zero_history_ = ~(np.nan_to_num(history) > 0).any(axis=1)
        self.segments_ = segments(data).to_numpy()
        names = list(templates)
        self.member_names_ = names
        self.fit_seconds_: dict[str, float] = {}
        self.level_calibrators_: dict[str, LevelCalibrator] = {}
        self.totals_calibrator_: TotalsCalibrator | None = None
        self.shrinkage_ = float("nan")
        self.cv_loss_: dict[float, float] = {}
        holdout = self._holdout(data, templates, keys)
        if holdout is None:
            # Too little history for a holdout: the first member serves everything, uncalibrated.
            self.weights_ = np.zeros((len(keys), len(names)))
            self.weights_[:, 0] = 1.0
            self.weight_table_ = pd.DataFrame()
            last_fits: dict[str, Forecaster] = {}
        else:
            self._weigh_and_calibrate(holdout)
            last_fits = holdout["last_fits"]
        fitted = {}
        used = [n for j, n in enumerate(names) if (self.weights_[:, j] > 0).any()]
        for name in used:
            t0 = time.perf_counter()
            model = last_fits.get(name)
            report_progress(f"final: {name}")
            if self.reanchor_final and model is not None and model.refreshable:
                log.info("combination: re-anchoring member %s's last holdout fit at %s", name,
                         data.end_date.date())
                fitted[name] = model.refresh(data)
            elif self.warm_refits and model is not None and model.warm_refittable:
                log.info("combination: refitting member %s warm-started from its last holdout fit", name)
                fitted[name] = refit_member(name, templates[name], model, data)
            else:
                log.info("combination: refitting member %s on all data", name)
                fitted[name] = fit_member(name, templates[name], data)
            self.fit_seconds_[name] = self.fit_seconds_.get(name, 0.0) + time.perf_counter() - t0
        self.members_ = fitted
        # Serving members' capabilities: shortest horizon limit, features read, first importances.
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
        """Fit members on truncated data; return holdout quantiles, actuals, scales, paths, last fits."""
        h = self.holdout_days
        span = int((data.end_date - data.start_date).days) + 1
        if span < h * self.holdout_folds + 2 * 7:
            log.warning(
                "combination: %d days of data are too few for %d holdout windows of %d days; using "
                "member %r uncalibrated", span, self.holdout_folds, h, next(iter(templates)),
            )
            return None
        levels = CALIBRATION_LEVELS
        n = len(keys)
        # float32: 30,000 series x 56 days x 26 levels is 350 MB a member in float64.
        quant = {name: np.full((n, h * self.holdout_folds, len(levels)), np.nan, dtype=np.float32)
                 for name in templates}
        actual = np.full((n, h * self.holdout_folds), np.nan)
        scale = np.ones(n)
        series_weight: np.ndarray | None = None
        # Per fold: each member's holdout paths of a sample of series, and those series' rows.
        paths: list[dict[str, np.ndarray]] = []
        paths_keys: list[np.ndarray] = []
        per_fold = max(_MAX_CALIBRATION_SERIES // int(self.holdout_folds), 1)
        last_fits: dict[str, Forecaster] = {}
        sample_rng = np.random.default_rng(self.random_state)
        full = data.panel().units
        train: Dataset | None = None
        earlier: dict[str, Forecaster] = {}  # the first origin's fits of the refreshable members
        # In rolling use (backtests, re-plans: inside shared_member_fits) a later fold's data is usually
        # an earlier origin's full data, whose fit is shared; only folds that no origin fitted are
        # refreshed, and the refresh is shared with the next origins like a fit.
        chain = self.holdout_refits in ("first", "warm")
        warm = self.holdout_refits == "warm" and self.warm_refits and not self.reanchor_final
        for fold in range(self.holdout_folds):
            cutoff = data.end_date - pd.Timedelta(days=h * (self.holdout_folds - fold))
            # Drop the previous fold's copy of the sales first (30,000 series x 730 days: about 1 GB).
            train = None
            train = data.truncate(cutoff)
            train_keys = train.series()
            rows = keys.reset_index().merge(train_keys, on=KEY)["index"].to_numpy()
            cut_col = full.shape[1] - h * (self.holdout_folds - fold)
            actual[:, fold * h : (fold + 1) * h] = full[:, cut_col : cut_col + h]
            actual[np.setdiff1d(np.arange(n), rows), fold * h : (fold + 1) * h] = np.nan
            if fold == 0:
                scale = panel_scales(full[:, :cut_col])
                series_weight = (None if self.loss_weights == "equal" else revenue_weights(train, keys))
            last = fold == self.holdout_folds - 1
            keep = np.arange(len(rows))
            if len(rows) > per_fold:
                keep = np.sort(sample_rng.choice(len(rows), per_fold, replace=False))
            if self.calibrate:
                paths_keys.append(rows[keep])
                paths.append({})
            for name, template in templates.items():
                log.info("combination: holdout fold %d of %d, fitting %s", fold + 1, self.holdout_folds, name)
                report_progress(f"holdout {fold + 1}/{self.holdout_folds}: {name}")
                t0 = time.perf_counter()
                if fold > 0 and warm and name in earlier and template.warm_refittable:
                    # Score the later folds with the kind of fit that will serve: a warm refit of the
                    # first origin's fit (the final fit continues the same one).
                    model = refit_member(name, template, earlier[name], train)
                elif fold > 0 and chain and name in earlier:
                    # Re-anchor the first origin's fit: a global LightGBM refit per fold was two thirds
                    # of a combination's cost, and 28 more days of rows change its boosters little.
                    model = refresh_member(name, template, earlier[name], train)
                else:
                    model = fit_member(name, template, train, refreshed_ok=chain)
                    if template.refreshable:
                        earlier[name] = model
                fc = _in_order(model.predict(h, levels), train_keys, h, name)
                cols = [quantile_column(q) for q in levels]
                quant[name][rows, fold * h : (fold + 1) * h] = fc[cols].to_numpy(float).reshape(
                    len(rows), h, len(levels)
                )
                if self.calibrate:
                    member_rows = _path_order(model.keys_, train_keys, name)[keep]
                    paths[-1][name] = model.sample_paths(h, self.n_paths_calibration, self.random_state,
                                                         rows=member_rows).values
                if last and (model.refreshable or model.warm_refittable):
                    # A warm-scored fold's final fit continues the cold fit, not a refit of a refit.
                    last_fits[name] = earlier[name] if warm and name in earlier else model
                del model
                self.fit_seconds_[name] = self.fit_seconds_.get(name, 0.0) + time.perf_counter() - t0
        return {"quant": quant, "actual": actual, "scale": scale, "paths": paths, "paths_rows": paths_keys,
                "last_fits": last_fits, "series_weight": series_weight}

    def _weighted(self, quant: Mapping[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        """Per series, the weighted average of the members' quantile arrays ``(n, days, levels)``."""
        out = np.zeros(next(iter(quant.values())).shape, dtype=float)
        for j, name in enumerate(self.member_names_):
            w = weights[:, j]
            if (w > 0).any():
                out += w[:, None, None] * np.nan_to_num(quant[name])
        return out

    def _weigh_and_calibrate(self, holdout: dict[str, Any]) -> None:
        quant, actual, scale = holdout["quant"], holdout["actual"], holdout["scale"]
        levels = np.asarray(CALIBRATION_LEVELS)
        m5_idx = [int(np.argmin(np.abs(levels - q))) for q in M5_QUANTILES]
        fold = np.repeat(np.arange(self.holdout_folds), self.holdout_days)
        stacked = np.stack([quant[m][:, :, m5_idx] for m in self.member_names_])
        estimator = WeightEstimator(
            sanity_ratio=float(self.sanity_ratio),
            shrinkage=1.0 if self.weighting == "equal" else self.shrinkage,
            random_state=self.random_state,
        ).fit(stacked, actual, fold, scale, self.segments_, M5_QUANTILES, holdout["series_weight"])
        del stacked
        self.shrinkage_ = estimator.shrinkage_
        self.cv_loss_ = estimator.cv_loss_
        self.weights_ = estimator.weights_for(self.segments_)
        self.weight_table_ = pd.DataFrame([
            {"segment": sw.segment, "n_series": sw.n_series,
             **{f"spl_{m}": float(v) for m, v in zip(self.member_names_, sw.member_spl, strict=True)},
             "sane": "+".join(m for m, ok in zip(self.member_names_, sw.sane, strict=True) if ok),
             **{f"w_{m}": float(v) for m, v in zip(self.member_names_, sw.weights, strict=True)},
             "stacked": _weights_label(self.member_names_, sw.stacked)}
            for sw in estimator.segment_weights_.values()
        ])
        log.info("combination: shrinkage towards equal weights %.2f; weights per segment:\n%s",
                 self.shrinkage_, self.weight_table_.to_string(index=False))
        if not self.calibrate:
            return
        blend = self._weighted(quant, self.weights_)
        folds_of_row = np.broadcast_to(fold, actual.shape).reshape(-1)
        everyone = LevelCalibrator(CALIBRATION_LEVELS, _MIN_CALIBRATION_OBS).fit(
            actual.reshape(-1), blend.reshape(-1, len(levels)), folds=folds_of_row
        )
        # One level map per segment (intermittent and smooth series miss in different ways), the
        # all-series map where a segment has too few observations.
        for seg in np.unique(self.segments_):
            rows = self.segments_ == seg
            cal = LevelCalibrator(CALIBRATION_LEVELS, _MIN_CALIBRATION_OBS).fit(
                actual[rows].reshape(-1), blend[rows].reshape(-1, len(levels)),
                folds=np.broadcast_to(fold, actual[rows].shape).reshape(-1),
            )
            self.level_calibrators_[str(seg)] = cal if cal.n_obs_ >= _MIN_SEGMENT_OBS else everyone
        # The totals' spread is matched on every fold's paths at once: one window of a few hundred
        # series moved the 95% quantile of m5-tiny's 28-day totals by two points either way.
        path_totals, actual_totals = [], []
        h = self.holdout_days
        for f, (fold_paths, prow) in enumerate(zip(holdout["paths"], holdout["paths_rows"], strict=True)):
            if not fold_paths:
                continue
            members = ((m, v, None) for m, v in fold_paths.items())
            values = self._remap(self._blend_paths(members, self.weights_[prow]), self.segments_[prow])
            act = actual[prow, f * h : (f + 1) * h]
            path_totals.append(values.sum(axis=2))
            actual_totals.append(np.where(np.isnan(act).any(axis=1), np.nan, act.sum(axis=1)))
        if path_totals:
            self.totals_calibrator_ = TotalsCalibrator().fit(np.concatenate(path_totals),
                                                             np.concatenate(actual_totals))

    # ------------------------------------------------------------------------------------ predict
    def _blend_paths(
        self, member_paths: Iterable[tuple[str, np.ndarray, np.ndarray | None]], weights: np.ndarray
    ) -> np.ndarray:
        """Per series, the weighted average of the members' paths paired by the rank of their totals.

        Args:
            member_paths: ``(name, values, order)`` per member, where ``values[order]`` (or ``values``
                when ``order`` is None) are in the order of ``weights``' rows. A generator keeps one
                member's paths in memory at a time.
            weights: ``(n_series, n_members)`` weights, columns in ``member_names_`` order.
        """
        out: np.ndarray | None = None
        for name, values, order in member_paths:
            if out is None:
                out = np.zeros((len(weights), values.shape[1], values.shape[2]), dtype=np.float32)
            w = weights[:, self.member_names_.index(name)].astype(np.float32)
            for sel in _blocks(np.flatnonzero(w > 0)):
                v = values[sel if order is None else order[sel]]
                rank = np.argsort(v.sum(axis=2), axis=1, kind="stable")
                out[sel] += w[sel, None, None] * np.take_along_axis(v, rank[:, :, None], axis=1)
        assert out is not None
        return out

    def _remap(self, values: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """The calibrators' level maps applied to each segment's series, in place."""
        for seg, calibrator in self.level_calibrators_.items():
            for sel in _blocks(np.flatnonzero(segment == seg)):
                values[sel] = calibrator.remap_paths(values[sel])
        return values

    def _labels(self, rows: np.ndarray) -> np.ndarray:
        labels = np.empty(len(rows), dtype=object)
        weights = self.weights_[rows]
        uniq, inverse = np.unique(weights, axis=0, return_inverse=True)
        for k, w in enumerate(uniq):
            label = _weights_label(self.member_names_, w)
            labels[np.asarray(inverse).reshape(-1) == k] = f"combination:{label}"
        labels[self.zero_history_[rows]] = "combination:zero_history"
        return labels

    def _predict(self, horizon: int, quantiles: tuple[float, ...]) -> pd.DataFrame:
        levels = tuple(sorted(set(CALIBRATION_LEVELS) | set(quantiles)))
        cols = [quantile_column(q) for q in levels]
        n = len(self.keys_)
        out_q = np.zeros((n, horizon, len(levels)))
        out_mean = np.zeros((n, horizon))
        frame = None
        for name, model in self.members_.items():
            fc = _in_order(model.predict(horizon, levels), self.keys_, horizon, name)
            if frame is None:
                frame = fc[[*KEY, "date"]].astype({"sku": str, "channel": str})
            w = self.weights_[:, self.member_names_.index(name)]
            out_q += w[:, None, None] * fc[cols].to_numpy(float).reshape(n, horizon, len(levels))
            out_mean += w[:, None] * fc["mean"].to_numpy(float).reshape(n, horizon)
        assert frame is not None
        result_q = out_q[:, :, [levels.index(q) for q in quantiles]]
        for seg, calibrator in self.level_calibrators_.items():
            sel = self.segments_ == seg
            if sel.any():
                grid = _regrid(out_q[sel], levels, CALIBRATION_LEVELS)
                result_q[sel] = calibrator.quantiles(grid, quantiles)
        result_q[self.zero_history_] = 0.0
        out_mean[self.zero_history_] = 0.0
        result = frame.reset_index(drop=True).copy()
        result["mean"] = out_mean.reshape(-1)
        for j, q in enumerate(quantiles):
            result[quantile_column(q)] = result_q[:, :, j].reshape(-1)
        result["model"] = np.repeat(self._labels(np.arange(n)), horizon)
        return result

    def _sample_rows(
        self, horizon: int, n_paths: int, rng: np.random.Generator, rows: np.ndarray
    ) -> SamplePaths:
        seeds = rng.integers(0, 2**31 - 1, size=len(self.members_))
        weights = self.weights_[rows]
        # All series in their own order: draw every member whole (no subset bookkeeping).
        every = len(rows) == len(self.keys_) and bool((rows == np.arange(len(rows))).all())

        def drawn() -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
            # One member's paths at a time: for 30,000 series x 300 paths each is 1 GB.
            for (name, model), seed in zip(self.members_.items(), seeds, strict=True):
                if not (weights[:, self.member_names_.index(name)] > 0).any():
                    continue
                if every:
                    sp = model.sample_paths(horizon, n_paths, int(seed))
                    yield name, sp.values, _path_order(sp.keys, self.keys_, name)
                else:
                    # Only the members' rows of the wanted series are drawn, already in ``rows`` order.
                    member_rows = _path_order(model.keys_, self.keys_, name)[rows]
                    yield name, model.sample_paths(horizon, n_paths, int(seed), rows=member_rows).values, None

        values = self._blend_paths(drawn(), weights)
        if self.level_calibrators_:
            values = self._remap(values, self.segments_[rows])
        if self.totals_calibrator_ is not None:
            values = self.totals_calibrator_.apply(values)
        zero = self.zero_history_[rows]
        values[zero] = 0.0
        np.clip(values, 0, None, out=values)
        return SamplePaths(
            keys=self.keys_.iloc[rows].reset_index(drop=True), start=self._start(), values=values,
            model=self._labels(rows),
        )

    def _start(self) -> pd.Timestamp:
        return self.origin_ + pd.Timedelta(days=1)
