"""Replay a year of demand against replenishment policies and measure what each would have cost.

The simulator replays daily demand for every SKU-channel (the recorded sales of the last ``days``
days, or the synthetic truth's uncensored demand when given) and runs several policies side by side
on the same demand and the same lead-time draws (common random numbers, so differences are the
policies'):

- ``ALL_JIT``: every series runs JIT (expected demand over the actual mean lead time + review period
  + the rules' buffer days).
- ``ALL_SAFETY_STOCK``: every series runs the classic formula SS = z sqrt((L+R) sd² + d² sL²) at one
  service level (``classic_service_level``, 0.95).
- ``BLENDED``: this engine's :func:`forecasting.inventory.policy.compute_policies` per series, with the spike
  windows of :func:`forecasting.signals.spikes.detect_spikes` (SEASONAL_HYBRID) unless
  ``spike_signals=False``.
- ``CLASSIC_BY_CLASS`` (optional): the classic formula at each series' class target, to tell apart
  what the targets and what the distribution-based quantities contribute.

Mechanics (vectorised over series and policies, one loop over days): receipts arrive in the morning;
demand is served from stock and the unserved part is lost (e-commerce customers buy elsewhere); on
review days (every R days, ``review="periodic"``; every day for ``review="continuous"``, with the same
s and S) a series whose inventory position is at or below s orders up to S, rounded up to MOQ and
pack size; the order arrives after a lead time drawn from the SKU's real receipts (all receipts of the
data, equally weighted), one draw per series and day shared by every policy.

Re-planning: every ``replan_days`` (28) days each policy re-plans from the data up to the day before:
the audit, segmentation and rules run on the truncated data. The classic baselines (ALL_JIT,
ALL_SAFETY_STOCK, CLASSIC_BY_CLASS) always plan from classic estimates of recent demand: a weekday
bootstrap of the last ``bootstrap_weeks`` (8) weeks of uncensored demand, or
``sparse_bootstrap_weeks`` (26) for series selling on fewer than half of the days: each future day
draws the same weekday of a random recent week, the same week for every series, so the weekly
profile and the cross-series correlation are kept. BLENDED plans from the same bootstrap unless
``forecaster=`` is given: then that :class:`models.base.Forecaster` is re-fitted at every re-plan and
BLENDED reads its sample paths (this engine's forecasts against classic practice; a forecaster with
a shorter ``max_horizon`` than the protection interval gives its longest paths, the quantities repeat
their last week). Planning reads lead times from the recency-weighted audit of the receipts up to
the re-plan; the replay draws them from all receipts of the data equally weighted (what really
happens). Each series starts at its first plan's order-up-to level with nothing on order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sklearn.base import clone

from features.dataset import Dataset
from features.schema import SERIES_KEY
from forecasting.inventory.change_cap import limit_changes
from forecasting.inventory.leadtime import LeadTimeConfig, audit_lead_times
from forecasting.inventory.ltd_calibration import LeadTimeDemandCalibration, calibration_groups
from forecasting.inventory.policy import compute_policies, lead_uniforms, prepare_context
from forecasting.inventory.replay_data import sku_values, true_demand
from forecasting.inventory.rules import Rules
from forecasting.inventory.safety_stock import (
    classic_levels,
    compute_quantities,
    draw_lead_times,
    round_order,
)
from forecasting.inventory.simulation_kpis import series_kpis, summarise
from forecasting.signals.spikes import detect_spikes
from models.base import Forecaster, SamplePaths
from models.member_fits import prune_member_fits, shared_member_fits

log = logging.getLogger(__name__)

ALL_JIT = "ALL_JIT"
ALL_SAFETY_STOCK = "ALL_SAFETY_STOCK"
BLENDED = "BLENDED"
CLASSIC_BY_CLASS = "CLASSIC_BY_CLASS"
SIM_POLICIES = (ALL_JIT, ALL_SAFETY_STOCK, BLENDED)
KNOWN_POLICIES = (*SIM_POLICIES, CLASSIC_BY_CLASS)
MIN_HISTORY_DAYS = 56
ASSIGNED_COLUMNS = ("policy", "service_level", "service_measure", "reasons", "jit_score", "window_start",
                    "window_end")


class SimulationConfig(BaseModel):
    """Settings of a simulation run.

    Attributes:
        days: Days replayed (the last ``days`` of the data).
        policies: Policies compared, among :data:`KNOWN_POLICIES` (``CLASSIC_BY_CLASS``, the classic
            formula at each class's own target, isolates what the distribution-based quantities add
            to the class targets).
        replan_days: Days between re-plans.
        n_paths: Sample paths per plan.
        bootstrap_weeks: Weeks of history the bootstrap forecaster resamples for a series selling on
            most days.
        sparse_bootstrap_weeks: Weeks resampled for a series that sold on fewer than half of the
            recent days: a few bulk orders in eight weeks say little about their rate and size.
        classic_service_level: Service level of ``ALL_SAFETY_STOCK``.
        classic_levels: Service levels of a sweep of the classic formula (the inventory-service
            frontier), each run as ``ALL_SAFETY_STOCK@<level>``; empty: no sweep.
        ltd_calibration: BLENDED plans lead-time demand at the levels its realized coverage implies
            (:mod:`forecasting.inventory.ltd_calibration`): every plan's path totals over lead time +
            review period are scored once observed, by demand pattern and lead-time bucket.
        change_cap: BLENDED's reorder points move at most ``rules.max_change_ratio`` fold between two
            re-plans unless a spike window or a supplier slip justifies it (as the weekly job does).
        calibration_origins: Rolling origins, ``replan_days`` apart before the replay, whose plans
            warm the calibration up (each re-fits the forecaster once).
        calibration_prior: PITs that weigh as much as the uncorrected target.
        holding_rate: Yearly carrying cost as a share of inventory value.
        review: 'periodic' (order on review days) or 'continuous' (check every day).
        spike_signals: Let BLENDED read the spike windows of
            :func:`forecasting.signals.spikes.detect_spikes` at every re-plan (SEASONAL_HYBRID).
        seed: Seed of the lead-time draws and the paths.
    """

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=365, ge=28, le=3650)
    policies: tuple[str, ...] = SIM_POLICIES
    replan_days: int = Field(default=28, ge=1, le=365)
    n_paths: int = Field(default=200, ge=20, le=5000)
    bootstrap_weeks: int = Field(default=8, ge=2, le=52)
    sparse_bootstrap_weeks: int = Field(default=26, ge=2, le=104)
    classic_service_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    classic_levels: tuple[float, ...] = ()
    ltd_calibration: bool = True
    change_cap: bool = True
    calibration_origins: int = Field(default=3, ge=0, le=12)
    calibration_prior: float = Field(default=30.0, ge=0.0)
    holding_rate: float = Field(default=0.25, gt=0.0, le=2.0)
    review: Literal["periodic", "continuous"] = "periodic"
    spike_signals: bool = True
    seed: int = Field(default=0, ge=0)

    @field_validator("policies")
    @classmethod
    def _policies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in value if p not in KNOWN_POLICIES]
        if bad or not value:
            raise ValueError(f"The 'policies' must be among {', '.join(KNOWN_POLICIES)}. Got {list(value)}.")
        return tuple(dict.fromkeys(value))

    @field_validator("classic_levels")
    @classmethod
    def _levels(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        bad = [v for v in value if not 0.5 < v < 1.0]
        if bad:
            raise ValueError(f"each classic service level must lie in (0.5, 1), e.g. 0.8,0.9,0.95,0.99; "
                             f"{bad} do not")
        return tuple(sorted(set(value)))

    @property
    def policy_names(self) -> tuple[str, ...]:
        """The policies run: ``policies`` then ``ALL_SAFETY_STOCK@<level>`` for each classic level."""
        return (*self.policies, *(classic_name(level) for level in self.classic_levels))


def classic_name(level: float) -> str:
    """Row name of the classic formula at one level of the sweep, e.g. ``ALL_SAFETY_STOCK@0.95``."""
    return f"{ALL_SAFETY_STOCK}@{level:g}"


@dataclass
class SimulationResult:
    """What a simulation produced.

    Attributes:
        kpis: KPIs per ``policy`` and ``segment`` ('ALL' and each ABC class).
        series: KPIs per policy and series (with ``abc`` and the BLENDED ``assigned_policy``).
        daily: Per policy and day: ``inventory_value, demand, sales``.
        config: The settings used.
        calibration: Per calibration group: PITs scored, the uncorrected coverage and the level
            planned at for each class target (empty without ``ltd_calibration``).
    """

    kpis: pd.DataFrame
    series: pd.DataFrame
    daily: pd.DataFrame
    config: SimulationConfig
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)


def weekly_bootstrap_paths(history: np.ndarray, horizon: int, n_paths: int, weeks: int,
                           rng: np.random.Generator) -> np.ndarray:
    """Demand paths resampled weekday by weekday from the last ``weeks`` weeks.

    Args:
        history: ``(n, t)`` daily demand, NaN where not observed (censored or before launch).
        horizon: Days per path.
        n_paths: Paths.
        weeks: Recent weeks to resample.
        rng: Random generator.

    Returns:
        ``(n, n_paths, horizon)``. Unobserved days take the series' mean over the window (0 if none),
        so a stockout week does not read as a week without demand.
    """
    window = history[:, -7 * weeks:]
    if window.shape[1] < 7 * weeks:
        window = np.concatenate([np.full((len(window), 7 * weeks - window.shape[1]), np.nan), window], axis=1)
    observed = ~np.isnan(window)
    level = np.where(observed, window, 0.0).sum(axis=1) / np.maximum(observed.sum(axis=1), 1)
    window = np.where(np.isnan(window), level[:, None], window).reshape(len(window), weeks, 7)
    n_weeks = -(-horizon // 7)
    # The blocks line up with the weekdays: the last block ends on the origin, so future day k has the
    # weekday of block day k % 7.
    # Each future day takes the same weekday of a random recent week, the same week for every series of
    # a path and day. Drawing days rather than whole weeks gives the L+R totals many more combinations
    # than ``weeks`` blocks would, so their tail quantiles are not just the sum of the worst weeks.
    pick = rng.integers(0, weeks, size=(n_paths, n_weeks, 7))
    out = window[:, pick, np.arange(7)[None, None, :]]
    return out.reshape(len(window), n_paths, n_weeks * 7)[:, :, :horizon]


def _forecast_paths(forecaster: Forecaster, hist: Dataset, keys: pd.DataFrame, fallback: np.ndarray,
                    horizon: int, n_paths: int, seed: int) -> np.ndarray:
    """Paths of ``forecaster`` re-fitted on ``hist``, in the order of ``keys``.

    A forecaster with a shorter ``max_horizon`` than needed gives its longest paths (the quantities
    repeat their last week); series it does not forecast keep their ``fallback`` (bootstrap) paths.
    """
    fitted = clone(forecaster).fit(hist)
    limit = fitted.max_horizon_ or horizon
    length = min(horizon, int(limit))
    drawn = fitted.sample_paths(length, n_paths, random_state=seed)
    order = keys.merge(drawn.keys[list(SERIES_KEY)].reset_index(), on=list(SERIES_KEY), how="left")["index"]
    values = fallback[:, :, :length].copy()
    known = order.notna().to_numpy()
    values[known] = drawn.values[order[known].to_numpy(dtype=int)]
    return values


def _plan(
    data: Dataset, rules: Rules, cfg: SimulationConfig, keys: pd.DataFrame, y_hist: np.ndarray,
    launched: np.ndarray, as_of: pd.Timestamp, step: int, forecaster: Forecaster | None,
    calibration: LeadTimeDemandCalibration | None = None, record_only: bool = False,
    last: dict[str, pd.DataFrame] | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], pd.DataFrame]:
    """(s, S) of every policy for every series, planned on the data up to ``as_of``.

    With ``calibration``, BLENDED plans at the levels its realized lead-time demand so far implies,
    and the plan's path totals are recorded for scoring once observed; ``record_only`` stops there
    (the rolling origins before the replay that warm the calibration up). ``last`` holds BLENDED's
    previous plan: with ``cfg.change_cap`` its reorder points move at most ``rules.max_change_ratio``
    fold from it (as between two published runs of the weekly job).
    """
    n = len(keys)
    hist = data.truncate(as_of)
    idx = np.flatnonzero(launched)
    sub_keys = keys.iloc[idx].reset_index(drop=True)
    rng = np.random.default_rng([cfg.seed, step])
    audit = audit_lead_times(hist, as_of, rules.lead_time)
    horizon = int(max(max(d.days.max() for d in audit.distributions.values()) if audit.distributions else 1,
                      np.ceil(rules.lead_time.default_lead_time_days * 3))) + rules.review_period_days
    # The classic baselines plan from the recent-demand bootstrap (mean and spread of recent weeks).
    recent = y_hist[idx, -7 * cfg.bootstrap_weeks:]
    observed = (~np.isnan(recent)).sum(axis=1)
    selling = (np.nan_to_num(recent) > 0).sum(axis=1) / np.maximum(observed, 1)
    sparse = selling < 0.5
    values = weekly_bootstrap_paths(y_hist[idx], horizon, cfg.n_paths, cfg.bootstrap_weeks, rng)
    if sparse.any():
        values[sparse] = weekly_bootstrap_paths(y_hist[idx][sparse], horizon, cfg.n_paths,
                                                cfg.sparse_bootstrap_weeks, rng)
    paths = SamplePaths(sub_keys, as_of + pd.Timedelta(days=1), values)
    blended_paths = paths
    if forecaster is not None:
        blended_paths = SamplePaths(sub_keys, paths.start, _forecast_paths(
            forecaster, hist, sub_keys, values, horizon, cfg.n_paths, cfg.seed + step))
    ctx = prepare_context(hist, paths, rules, as_of, audit=audit)
    # The other policies ignore spike windows; BLENDED re-assigns from the same segments.
    segment_columns = [c for c in ctx.assigned.columns if c not in ASSIGNED_COLUMNS]
    plans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    seed = cfg.seed + step
    lead_mean = np.array([d.mean for d in ctx.lead_distributions])
    lead_std = np.array([d.std for d in ctx.lead_distributions])
    R = rules.review_period_days
    groups = calibration_groups(ctx.assigned["pattern"], lead_mean)
    if calibration is not None:
        calibration.record(y_hist.shape[1], idx, blended_paths.values, np.ceil(lead_mean).astype(int) + R,
                           groups)
    if record_only:
        return {}, ctx.assigned[[*SERIES_KEY, "abc", "policy"]]

    def full(s_sub: np.ndarray, big_s_sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, big_s = np.zeros(n), np.zeros(n)
        s[idx], big_s[idx] = s_sub, big_s_sub
        return s, big_s

    if BLENDED in cfg.policies:
        if cfg.spike_signals:
            spikes = detect_spikes(hist, horizon_days=min(horizon + cfg.replan_days, 300))
            ctx = prepare_context(hist, blended_paths, rules, as_of, spike_windows=spikes, audit=audit,
                                  segments=ctx.assigned[segment_columns])
        bctx = ctx
        if calibration is not None:
            targets = ctx.assigned["service_level"].to_numpy(dtype=float)
            levels = calibration.levels(groups, targets)
            bctx = replace(ctx, assigned=ctx.assigned.assign(service_level=levels))
        pol = compute_policies(hist, blended_paths, rules, as_of, random_state=seed, context=bctx)
        if last is not None and cfg.change_cap:
            pol = limit_changes(pol, last.get(BLENDED), rules.max_change_ratio)
            last[BLENDED] = pol
        plans[BLENDED] = full(pol["reorder_point"].to_numpy(), pol["order_up_to"].to_numpy())
    if ALL_JIT in cfg.policies:
        lead = draw_lead_times(ctx.lead_distributions, lead_uniforms(ctx.assigned["sku"], cfg.n_paths, seed))
        q = compute_quantities(paths.values, lead, R, ctx.assigned["service_level"].to_numpy(dtype=float),
                               np.zeros(len(idx), dtype=bool), rules.policies.jit.buffer_days, lead_mean,
                               lead_std)
        plans[ALL_JIT] = full(q["reorder_point"].to_numpy(), q["order_up_to"].to_numpy())
    daily = paths.values.reshape(len(idx), -1)
    d, sd = daily.mean(axis=1), daily.std(axis=1)
    classic = [(ALL_SAFETY_STOCK, np.full(len(idx), cfg.classic_service_level)),
               (CLASSIC_BY_CLASS, ctx.assigned["service_level"].to_numpy(dtype=float))]
    classic = [(name, level) for name, level in classic if name in cfg.policies]
    classic += [(classic_name(v), np.full(len(idx), v)) for v in cfg.classic_levels]
    for name, level in classic:
        plans[name] = full(*classic_levels(d, sd, lead_mean, lead_std, R, level))
    assigned = ctx.assigned[[*SERIES_KEY, "abc", "policy"]]
    return plans, assigned


def simulate(
    data: Dataset,
    rules: Rules,
    config: SimulationConfig | None = None,
    *,
    demand: pd.DataFrame | None = None,
    forecaster: Forecaster | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_replan: Callable[[int, int, pd.Timestamp], None] | None = None,
) -> SimulationResult:
    """Replay the last ``config.days`` days under each policy and measure the KPIs.

    Args:
        data: Validated tables; needs at least 56 days of sales before the replayed period.
        rules: Rules of the BLENDED policy (also the review period and JIT buffer of ALL_JIT).
        config: Simulation settings.
        demand: Optional true demand ``sku, channel, date, demand`` (e.g. the synthetic truth);
            default: the recorded sales, stockout days replaced by the series' mean.
        forecaster: Optional forecaster re-fitted at every re-plan; BLENDED plans from its sample
            paths instead of the weekly bootstrap (the classic baselines keep the bootstrap).
        progress: Optional callback ``(day, days)`` called after each simulated day.
        on_replan: Optional callback ``(plans_done, plans, as_of)`` called after each plan: the
            calibration origins' then the re-plans (the forecaster's re-fit is most of a plan's time).

    Returns:
        The KPIs per policy and segment, per series, and the daily inventory trace.

    Raises:
        ValueError: If the data is too short for the requested days.
    """
    cfg = config or SimulationConfig()
    keys = data.series()
    panel = data.panel()  # rows in data.series() order
    y, first, dates = panel.units, panel.first_day, panel.dates
    if len(dates) - cfg.days < MIN_HISTORY_DAYS:
        raise ValueError(
            f"The 'days' to simulate ({cfg.days}) leave {len(dates) - cfg.days} days of history; need at "
            f"least {MIN_HISTORY_DAYS}. Simulate at most {len(dates) - MIN_HISTORY_DAYS} days or add history."
        )
    names = cfg.policy_names
    days, n, k = cfg.days, len(keys), len(names)
    t0 = len(dates) - days
    warm = [t0 - back * cfg.replan_days for back in range(cfg.calibration_origins, 0, -1)]
    warm_up = cfg.ltd_calibration and BLENDED in cfg.policies
    warm = [o for o in warm if o - 1 >= MIN_HISTORY_DAYS] if warm_up else []
    # Progress counts the calibration origins' plans with the re-plans: each re-fits the forecaster.
    n_replans = -(-days // cfg.replan_days) + len(warm)
    true = true_demand(data, keys, y, first, dates, days, demand)
    unit_cost = sku_values(data, keys["sku"], "unit_cost", 1.0)
    unit_price = sku_values(data, keys["sku"], "unit_price", 1.0)
    moq = sku_values(data, keys["sku"], "moq", 0.0)
    pack = sku_values(data, keys["sku"], "pack_size", 1.0)
    truth_audit = audit_lead_times(data, data.end_date, LeadTimeConfig(
        **{**rules.lead_time.model_dump(), "half_life_days": 1e9}))
    dists = [truth_audit.for_sku(s) for s in keys["sku"]]
    lead = draw_lead_times(dists, lead_uniforms(keys["sku"], days, cfg.seed + 10_000))
    max_lead = int(lead.max())

    on_hand = np.zeros((k, n))
    on_order = np.zeros((k, n))
    pipeline = np.zeros((k, n, days + max_lead + 1))
    acc = {name: np.zeros((k, n)) for name in ("demand", "sales", "oos_days", "oos_events", "inventory",
                                               "active_days", "cycles", "short_cycles")}
    was_oos = np.zeros((k, n), dtype=bool)
    cycle_short = np.zeros((k, n), dtype=bool)
    daily_value = np.zeros((k, days))
    review_every = 1 if cfg.review == "continuous" else rules.review_period_days
    s = big_s = np.zeros((k, n))
    start_assignment: pd.DataFrame | None = None
    # Re-plans ``holdout_days`` apart: a combination's members fitted at one plan are its holdout members
    # at the next, so each is fitted once.
    member_fits: dict[tuple[object, ...], Forecaster] = {}
    calibration = None
    last_plans: dict[str, pd.DataFrame] = {}
    if cfg.ltd_calibration and BLENDED in cfg.policies:
        calibration = LeadTimeDemandCalibration(prior_weight=cfg.calibration_prior, seed=cfg.seed)
        for done, origin in enumerate(warm, start=1):
            with shared_member_fits(member_fits):
                _plan(data, rules, cfg.model_copy(update={"policies": (BLENDED,)}), keys, y[:, :origin],
                      first <= origin - 1, dates[origin - 1], 10_000 + done, forecaster, calibration, True)
            log.info("calibration origin %s recorded", dates[origin - 1].date())
            if on_replan is not None:
                on_replan(done, n_replans, dates[origin - 1])
    for t in range(days):
        active = first <= t0 + t
        if t % cfg.replan_days == 0:
            as_of = dates[t0 + t - 1]
            if calibration is not None:
                calibration.update(y[:, : t0 + t])
            with shared_member_fits(member_fits):
                plans, assigned = _plan(data, rules, cfg, keys, y[:, : t0 + t], first <= t0 + t - 1, as_of,
                                        t, forecaster, calibration, last=last_plans)
            # A later plan's holdouts reach back at most two re-plans (holdout_folds <= 2).
            prune_member_fits(member_fits, as_of - pd.Timedelta(days=2 * cfg.replan_days))
            s = np.stack([plans[p][0] for p in names])
            big_s = np.stack([plans[p][1] for p in names])
            if start_assignment is None:
                start_assignment = assigned
                on_hand = big_s.copy()
            log.info("simulation day %d/%d: re-planned %d series as of %s", t, days, int(active.sum()),
                     as_of.date())
            if on_replan is not None:
                on_replan(len(warm) + t // cfg.replan_days + 1, n_replans, as_of)
        # A series launched since the last plan has s = S = 0 until the next plan: nothing to plan from.
        arrived = pipeline[:, :, t]
        # A replenishment cycle runs from one receipt to the next: close it when stock arrives.
        boundary = (arrived > 0) & (first < t0 + t)
        acc["cycles"] += boundary
        acc["short_cycles"] += cycle_short & boundary
        cycle_short &= ~boundary
        on_hand += arrived
        on_order -= arrived
        available = on_hand.copy()
        served = np.minimum(available, true[:, t])
        on_hand -= served
        short = (true[:, t] > available + 1e-9) | (available <= 0)
        short &= active
        acc["demand"] += true[:, t]
        acc["sales"] += served
        acc["oos_days"] += short
        acc["oos_events"] += short & ~was_oos
        was_oos = short
        cycle_short |= short & (true[:, t] > served + 1e-9)
        if t % review_every == 0:
            position = on_hand + on_order
            qty = round_order(np.where((position <= s) & active, big_s - position, 0.0), moq, pack)
            on_order += qty
            arrive = t + lead[:, t]
            pipeline[:, np.arange(n), arrive] += qty
        if t == days - 1:
            acc["cycles"] += active
            acc["short_cycles"] += cycle_short & active
        acc["inventory"] += on_hand * active
        acc["active_days"] += active
        daily_value[:, t] = on_hand @ unit_cost
        if progress is not None:
            progress(t + 1, days)

    assert start_assignment is not None
    series = series_kpis(keys, names, acc, unit_cost, unit_price, cfg.holding_rate)
    seg = keys.merge(start_assignment.rename(columns={"policy": "assigned_policy"}), on=list(SERIES_KEY),
                     how="left").fillna({"abc": "C", "assigned_policy": "not launched"})
    series = series.merge(seg, on=list(SERIES_KEY), how="left")
    daily = pd.DataFrame({
        "policy": np.repeat(names, days), "day": np.tile(np.arange(days), k),
        "date": np.tile(dates[t0:].to_numpy(), k), "inventory_value": daily_value.ravel(),
    })
    table = pd.DataFrame()
    if calibration is not None:
        calibration.update(y)
        table = calibration.coverage_table(tuple(sorted(set(rules.service_levels.values()))))
    return SimulationResult(summarise(series, cfg.holding_rate, days), series, daily, cfg, table)


__all__: Sequence[str] = (
    "ALL_JIT",
    "ALL_SAFETY_STOCK",
    "BLENDED",
    "CLASSIC_BY_CLASS",
    "KNOWN_POLICIES",
    "SIM_POLICIES",
    "SimulationConfig",
    "SimulationResult",
    "classic_name",
    "simulate",
    "weekly_bootstrap_paths",
)
