"""The inventory policy engine: segments + lead-time audit + rules + sample paths -> order advice.

``compute_policies`` is the one entry point the CLI, the API and the simulator call. It segments the
series, audits supplier lead times, assigns a policy with reasons, draws one lead time per sample
path from each SKU's measured distribution, and turns the Monte Carlo lead-time demand into safety
stock, reorder point, order-up-to level and a rounded order quantity. ``pool_by_sku`` reads the same
paths summed across the channels of each SKU (path by path, so the correlation is kept) and reports
what pooling the stock would save.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.schema import SERIES_KEY
from forecasting.inventory.leadtime import LeadTimeAudit, LeadTimeDistribution, audit_lead_times
from forecasting.inventory.rules import JIT, SAFETY_STOCK, SEASONAL_HYBRID, Rules, assign_policies
from forecasting.inventory.safety_stock import compute_quantities, draw_lead_times, order_decision
from forecasting.inventory.segmentation import segment
from models.base import SamplePaths

log = logging.getLogger(__name__)

POLICY_COLUMNS = [
    "sku", "channel", "abc", "xyz", "pattern", "is_new", "supplier", "lead_time_mean", "lead_time_std",
    "lead_time_p90", "lead_time_source", "lead_time_reliability", "policy", "service_level",
    "service_measure", "buffer_active", "reasons", "expected_demand", "safety_stock", "reorder_point",
    "order_up_to", "classic_safety_stock",
    "fill_rate", "on_hand", "on_order", "backorders", "inventory_position", "order_now", "order_qty", "moq",
    "pack_size",
]


@dataclass
class PolicyContext:
    """Everything measured before the quantities, reusable by callers (CLI, simulator).

    Attributes:
        audit: The supplier lead-time audit.
        assigned: Segments with the assigned policy, service target and reasons, aligned with the paths.
        lead_distributions: Lead-time distribution of each row of ``assigned``.
    """

    audit: LeadTimeAudit
    assigned: pd.DataFrame
    lead_distributions: list[LeadTimeDistribution]


def _align(paths: SamplePaths, segments: pd.DataFrame) -> pd.DataFrame:
    keys = paths.keys[list(SERIES_KEY)].astype(str).reset_index(drop=True)
    seg = segments.assign(sku=segments["sku"].astype(str), channel=segments["channel"].astype(str))
    merged = keys.merge(seg, on=list(SERIES_KEY), how="left", indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    if not missing.empty:
        examples = [f"{s}/{c}" for s, c in missing[list(SERIES_KEY)].head(5).itertuples(index=False)]
        raise ValueError(
            f"The sample paths hold {len(missing)} series without sales history, e.g. {examples}. "
            "Forecast the same data you plan with."
        )
    return merged.drop(columns="_merge")


def prepare_context(
    data: Dataset,
    paths: SamplePaths,
    rules: Rules,
    as_of: pd.Timestamp | str,
    spike_windows: pd.DataFrame | None = None,
    audit: LeadTimeAudit | None = None,
    segments: pd.DataFrame | None = None,
) -> PolicyContext:
    """Audit, segment and assign policies for the series of ``paths`` (in their order)."""
    as_of = pd.Timestamp(as_of)
    audit = audit or audit_lead_times(data, as_of, rules.lead_time)
    if segments is None:
        segments = segment(data, as_of, rules.segmentation, audit)
    assigned = assign_policies(_align(paths, segments), rules, as_of, spike_windows)
    if rules.service_allocation == "economic":
        assigned = economic_targets(assigned, data, rules)
    return PolicyContext(audit, assigned, [audit.for_sku(s) for s in assigned["sku"]])


def economic_targets(assigned: pd.DataFrame, data: Dataset, rules: Rules) -> pd.DataFrame:
    """Service targets from margin vs holding cost (``rules.service_allocation = 'economic'``).

    Target = margin / (margin + holding_rate x unit_cost x R / 365), the probability of no stockout
    that balances a lost unit's margin against a unit carried one more review period, within the
    class's ``economic_bounds``. SKUs without a positive price and cost keep their class target.
    """
    price = _sku_column(data, assigned["sku"].astype(str), "unit_price", np.nan)
    cost = _sku_column(data, assigned["sku"].astype(str), "unit_cost", np.nan)
    margin = price - cost
    holding = rules.holding_rate * cost * rules.review_period_days / 365.0
    known = np.isfinite(margin) & (margin > 0) & np.isfinite(holding) & (holding > 0)
    ratio = np.where(known, margin / np.where(known, margin + holding, 1.0), np.nan)
    bounds = assigned["abc"].astype(str).map(rules.economic_bounds)
    lo = np.array([b[0] if isinstance(b, tuple | list) else 0.5 for b in bounds])
    hi = np.array([b[1] if isinstance(b, tuple | list) else 0.999 for b in bounds])
    target = assigned["service_level"].to_numpy(dtype=float)
    level = np.where(known, np.clip(ratio, lo, hi), target)
    out = assigned.copy()
    out["service_level"] = level
    out["reasons"] = [
        [*rs, f"economic target {lv:.3f}: margin {m:.2f} vs holding {h:.4f} per review period"]
        if k else list(rs)
        for rs, lv, m, h, k in zip(out["reasons"], level, margin, holding, known, strict=True)
    ]
    return out


def _inventory(data: Dataset, keys: pd.DataFrame) -> pd.DataFrame:
    out = keys[list(SERIES_KEY)].copy()
    for col in ("on_hand", "on_order", "backorders"):
        out[col] = 0.0
    if data.inventory is not None:
        inv = data.inventory.assign(sku=data.inventory["sku"].astype(str),
                                    channel=data.inventory["channel"].astype(str))
        cols = [c for c in ("on_hand", "on_order", "backorders") if c in inv]
        merged = out[list(SERIES_KEY)].merge(inv[[*SERIES_KEY, *cols]], on=list(SERIES_KEY), how="left")
        for col in cols:
            out[col] = merged[col].fillna(0.0).to_numpy(dtype=float)
    out["inventory_position"] = out["on_hand"] + out["on_order"] - out["backorders"]
    return out


def _sku_column(data: Dataset, skus: pd.Series, column: str, default: float) -> np.ndarray:
    if data.skus is None or column not in data.skus:
        return np.full(len(skus), default)
    mapping = data.skus.assign(sku=data.skus["sku"].astype(str)).set_index("sku")[column]
    return skus.map(mapping).astype(float).fillna(default).to_numpy()


def lead_uniforms(skus: pd.Series, n_paths: int, random_state: int) -> np.ndarray:
    """Uniforms for the lead-time draws, one row per series, shared by the channels of one SKU.

    Channels of a SKU share the supplier's delivery, so they share the draw; that also makes the
    pooled and per-channel figures comparable path by path.
    """
    codes, uniques = pd.factorize(skus)
    per_sku = np.random.default_rng(random_state).random((len(uniques), n_paths))
    return per_sku[codes]


def buffer_active(assigned: pd.DataFrame, as_of: pd.Timestamp, rules: Rules,
                  lead_mean: np.ndarray) -> np.ndarray:
    """Where the reorder point is a distribution quantile: SAFETY_STOCK, or a spike window within reach."""
    reach = pd.to_timedelta(np.ceil(lead_mean) + rules.review_period_days
                            + rules.policies.seasonal_hybrid.extra_lead_days, unit="D")
    start = assigned["window_start"].to_numpy(dtype="datetime64[ns]")
    hybrid_on = (assigned["policy"].to_numpy() == SEASONAL_HYBRID) & (
        start - reach.to_numpy() <= np.datetime64(as_of))
    return (assigned["policy"].to_numpy() == SAFETY_STOCK) | hybrid_on


def compute_policies(
    data: Dataset,
    paths: SamplePaths,
    rules: Rules,
    as_of: pd.Timestamp | str | None = None,
    *,
    spike_windows: pd.DataFrame | None = None,
    random_state: int = 0,
    context: PolicyContext | None = None,
) -> pd.DataFrame:
    """Policy, safety stock, reorder point, order-up-to and order quantity per SKU-channel.

    Args:
        data: Validated tables (sales, skus, suppliers, receipts, inventory).
        paths: Joint demand scenarios starting the day after ``as_of``; their horizon should cover
            the longest lead time plus the review period (else the last week repeats).
        rules: Validated rules (:func:`forecasting.inventory.rules.load_rules`).
        as_of: Planning date; defaults to the last sales date.
        spike_windows: Optional ``sku, channel, start, peak, end`` of forecast peaks.
        random_state: Seed of the lead-time draws.
        context: A precomputed :func:`prepare_context` (skips the audit and segmentation).

    Returns:
        One row per series of ``paths`` with :data:`POLICY_COLUMNS` (``reasons`` is a list of str).
    """
    as_of = pd.Timestamp(as_of) if as_of is not None else data.end_date
    ctx = context or prepare_context(data, paths, rules, as_of, spike_windows)
    assigned = ctx.assigned
    n_paths = paths.values.shape[1]
    log.info("policies: %d series, %d paths, horizon %d", len(assigned), n_paths, paths.horizon)
    lead_mean = np.array([d.mean for d in ctx.lead_distributions])
    lead_std = np.array([d.std for d in ctx.lead_distributions])
    lead = draw_lead_times(ctx.lead_distributions, lead_uniforms(assigned["sku"], n_paths, random_state))
    buffered = buffer_active(assigned, as_of, rules, lead_mean)
    q = compute_quantities(
        paths.values, lead, rules.review_period_days, assigned["service_level"].to_numpy(dtype=float),
        buffered, rules.policies.jit.buffer_days, lead_mean, lead_std,
        fill_target=(assigned["service_measure"] == "fill_rate").to_numpy(),
        jit_floor=(assigned["policy"] == SEASONAL_HYBRID).to_numpy(),
        lot_reviews=rules.lot_review_periods,
    )
    inv = _inventory(data, assigned)
    moq = _sku_column(data, assigned["sku"], "moq", 0.0)
    pack = _sku_column(data, assigned["sku"], "pack_size", 1.0)
    order_now, qty = order_decision(q["reorder_point"].to_numpy(), q["order_up_to"].to_numpy(),
                                    inv["inventory_position"].to_numpy(), moq, pack)
    out = assigned.reset_index(drop=True).copy()
    out["lead_time_mean"] = lead_mean
    out["lead_time_std"] = lead_std
    out["lead_time_p90"] = [d.quantile(0.9) for d in ctx.lead_distributions]
    out["lead_time_source"] = [d.source for d in ctx.lead_distributions]
    out["buffer_active"] = buffered
    for col in ("expected_demand", "safety_stock", "reorder_point", "order_up_to", "classic_safety_stock",
                "fill_rate"):
        out[col] = q[col].to_numpy()
    for col in ("on_hand", "on_order", "backorders", "inventory_position"):
        out[col] = inv[col].to_numpy()
    out["order_now"] = order_now
    out["order_qty"] = qty
    # Kept with the row so order advice for another stock position rounds the same way (the API).
    out["moq"] = moq
    out["pack_size"] = pack
    result = out[POLICY_COLUMNS].copy()
    result.attrs["as_of"] = as_of
    return result


def pool_by_sku(
    data: Dataset,
    paths: SamplePaths,
    rules: Rules,
    policies: pd.DataFrame,
    *,
    random_state: int = 0,
    context: PolicyContext | None = None,
) -> pd.DataFrame:
    """Safety stock if the channels of each SKU shared one stock, and the saving against separate stocks.

    Paths are summed across channels path by path (scenario ``p`` of every channel together), which
    keeps any correlation the forecaster modelled between channels. The pooled target is the highest
    channel target of the SKU, so pooling never promises less service than any channel had. The
    saving compares like with like: the channels' safety stocks are recomputed as distribution
    quantiles at that same target (whatever policy they run), with the same per-path lead times.

    Args:
        data: Validated tables.
        paths: The paths ``policies`` was computed from.
        rules: The rules used.
        policies: Output of :func:`compute_policies` on the same paths and seed.
        random_state: Seed used for ``policies``.
        context: Precomputed context, as for :func:`compute_policies`.

    Returns:
        One row per SKU: ``sku, n_channels, service_level, channel_safety_stock, pooled_safety_stock,
        pooling_saving, pooled_reorder_point``.
    """
    ctx = context or prepare_context(data, paths, rules, policies.attrs.get("as_of", data.end_date))
    codes, skus = pd.factorize(policies["sku"].astype(str))
    n_paths = paths.values.shape[1]
    pooled = np.zeros((len(skus), n_paths, paths.horizon))
    np.add.at(pooled, codes, paths.values)
    first = np.unique(codes, return_index=True)[1]
    dists = [ctx.lead_distributions[i] for i in first]
    uniforms = lead_uniforms(pd.Series(skus), n_paths, random_state)
    lead = draw_lead_times(dists, uniforms)
    level = policies.groupby(codes)["service_level"].max().to_numpy()
    q = compute_quantities(
        pooled, lead, rules.review_period_days, level, np.ones(len(skus), dtype=bool),
        rules.policies.jit.buffer_days, np.array([d.mean for d in dists]), np.array([d.std for d in dists]),
    )
    per_channel = compute_quantities(
        paths.values, lead[codes], rules.review_period_days, level[codes], np.ones(len(codes), dtype=bool),
        rules.policies.jit.buffer_days, np.array([d.mean for d in ctx.lead_distributions]),
        np.array([d.std for d in ctx.lead_distributions]),
    )
    channel_ss = np.bincount(codes, weights=per_channel["safety_stock"].to_numpy(), minlength=len(skus))
    return pd.DataFrame({
        "sku": skus, "n_channels": np.bincount(codes), "service_level": level,
        "channel_safety_stock": channel_ss, "pooled_safety_stock": q["safety_stock"].to_numpy(),
        "pooling_saving": channel_ss - q["safety_stock"].to_numpy(),
        "pooled_reorder_point": q["reorder_point"].to_numpy(),
    })


__all__ = ["JIT", "POLICY_COLUMNS", "SAFETY_STOCK", "SEASONAL_HYBRID", "PolicyContext", "compute_policies",
           "pool_by_sku", "prepare_context"]
