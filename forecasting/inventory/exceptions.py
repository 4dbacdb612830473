"""Exceptions a planner acts on: what will run out, what is stuck, what is over-ordered, which policy fails.

Every detector works on the published policy rows (stock position, reorder point, order-up-to level,
mean lead time, mean daily demand) and returns rows ``sku, channel, kind, figure, threshold, severity,
message, action``: the figure that tripped it, the threshold it crossed, a sentence and the suggested
action.

- ``stockout_risk``: the probability that demand until the next possible receipt (an order placed today
  arrives after the measured lead time) exceeds ``on_hand + on_order - backorders``. From sample paths
  (each path with its own lead-time draw, as the policy engine does) in the weekly job; from the
  published lead-time demand grid rescaled to the lead time alone on demand (the approximation of
  :mod:`forecasting.inventory.replenishment`).
- ``excess_stock``: days of cover ``on_hand / mean daily demand`` above ``excess_cover_days`` (default 90)
  with no spike window or campaign ahead (a stock built for a peak is not excess).
- ``excess_on_order``: stock on order that takes the position above both the order-up-to level and
  ``excess_cover_days`` of demand; the surplus could be deferred or cancelled.
- ``policy_health`` (realized operations over the last quarter, from the sales table's ``in_stock``):
  a JIT SKU-channel with more than ``jit_max_stockouts`` stockout events; a safety-stock SKU-channel
  with any; a safety-stock SKU-channel whose turnover (net units sold over the last year / on hand)
  is below ``ss_turnover_floor``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from forecasting.infrastructure.settings import Settings
from forecasting.inventory.rules import JIT, SAFETY_STOCK, SEASONAL_HYBRID
from forecasting.inventory.stockouts import stockout_events, units_sold

KINDS = ("stockout_risk", "excess_stock", "excess_on_order", "policy_health")
COLUMNS = ["sku", "channel", "kind", "figure", "threshold", "severity", "message", "action", "policy"]
QUARTER_DAYS = 91
CHUNK = 2000


@dataclass(frozen=True)
class ExceptionThresholds:
    """What trips an exception (all must be positive numbers).

    Attributes:
        excess_cover_days: Days of cover above which stock is excess.
        run_out_probability: Probability of running out before the next receipt that raises a warning
            (twice it, capped at 0.9, is critical).
        jit_max_stockouts: Stockout events per quarter a JIT SKU-channel may have.
        ss_turnover_floor: Turns per year below which a safety-stock SKU-channel holds too much buffer.
    """

    excess_cover_days: float = 90.0
    run_out_probability: float = 0.25
    jit_max_stockouts: float = 1.0
    ss_turnover_floor: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ExceptionThresholds:
        """The limits configured by ``BLENDCAST_EXCESS_COVER_DAYS`` and friends."""
        return cls(excess_cover_days=settings.excess_cover_days,
                   run_out_probability=settings.run_out_probability,
                   jit_max_stockouts=settings.jit_max_stockouts,
                   ss_turnover_floor=settings.ss_turnover_floor)

    def __post_init__(self) -> None:
        for name in ("excess_cover_days", "run_out_probability", "jit_max_stockouts", "ss_turnover_floor"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"The threshold '{name}' must be a positive number. Got {value!r}. "
                                 f"Fix: e.g. {getattr(ExceptionThresholds, name)}.")
        if self.run_out_probability >= 1:
            raise ValueError(f"The threshold 'run_out_probability' must be below 1. Got "
                             f"{self.run_out_probability}. Fix: e.g. 0.25.")


def _col(frame: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[name], errors="coerce").fillna(default).to_numpy(dtype=float)


def positions(policies: pd.DataFrame) -> np.ndarray:
    """``on_hand + on_order - backorders`` per row."""
    on_hand, on_order = _col(policies, "on_hand", 0.0), _col(policies, "on_order", 0.0)
    return on_hand + on_order - _col(policies, "backorders", 0.0)


def run_out_from_paths(values: np.ndarray, lead_times: np.ndarray, position: np.ndarray) -> np.ndarray:
    """P(demand over the lead time > position) per series, from sample paths.

    Args:
        values: ``(n, n_paths, h)`` daily demand paths starting the day after the planning date.
        lead_times: ``(n, n_paths)`` lead-time draws in days (>= 1).
        position: ``(n,)`` stock position.
    """
    from forecasting.inventory.safety_stock import extend_paths

    out = np.empty(len(position))
    for lo in range(0, len(position), CHUNK):  # chunks bound the (series x paths x days) cumulative sums
        lead = np.maximum(lead_times[lo : lo + CHUNK].astype(int), 1)
        cum = np.cumsum(extend_paths(values[lo : lo + CHUNK], int(lead.max())), axis=2)
        d_l = np.take_along_axis(cum, (lead - 1)[..., None], axis=2)[..., 0]
        out[lo : lo + CHUNK] = (d_l > position[lo : lo + CHUNK, None]).mean(axis=1)
    return out


def run_out_from_grid(policies: pd.DataFrame, position: np.ndarray) -> np.ndarray:
    """P(demand over the lead time > position) from the published lead-time(+review) demand grid.

    The grid describes ``P = L + R`` days; it is rescaled to ``L`` days (mean x L/P, spread x sqrt(L/P))
    and read by linear interpolation, clipped to the grid's levels. Rows without a grid get NaN.
    """
    out = np.full(len(policies), np.nan)
    if "ltd_quantiles" not in policies:
        return out
    lead = _col(policies, "lead_time_mean", np.nan)
    daily = _col(policies, "daily_mean", 0.0)
    review = _col(policies, "review_demand", 0.0)
    arrays = list | tuple | np.ndarray
    for i, (levels, values) in enumerate(zip(policies["ltd_levels"], policies["ltd_quantiles"], strict=True)):
        if not isinstance(levels, arrays) or not isinstance(values, arrays):
            continue
        lv, qv = np.asarray(levels, dtype=float), np.maximum.accumulate(np.asarray(values, dtype=float))
        if len(lv) < 2 or not np.isfinite(lead[i]) or lead[i] <= 0:
            continue
        review_days = review[i] / daily[i] if daily[i] > 0 else 0.0
        scale = lead[i] / (lead[i] + review_days)
        mean = daily[i] * (lead[i] + review_days) if daily[i] > 0 else float(np.median(qv))
        scaled = np.maximum(mean * scale + (qv - mean) * math.sqrt(scale), 0.0)
        if position[i] < scaled[0]:
            # Below the grid's lowest level (often the median): a normal tail fitted to the grid's spread,
            # never less than what the grid itself says.
            spread = (scaled[-1] - scaled[0]) / max(ndtri(lv[-1]) - ndtri(lv[0]), 1e-9)
            tail = ndtr((mean * scale - position[i]) / spread) if spread > 0 else 1.0
            out[i] = max(1.0 - lv[0], float(tail))
        elif position[i] >= scaled[-1]:
            out[i] = 1.0 - lv[-1] if scaled[-1] > 0 else 0.0
        else:
            out[i] = 1.0 - float(np.interp(position[i], scaled, lv))
    return out


def _row(pol: Mapping[Any, Any], kind: str, figure: float, threshold: float, severity: str, message: str,
         action: str) -> dict[str, Any]:
    return {"sku": str(pol["sku"]), "channel": str(pol["channel"]), "kind": kind, "figure": float(figure),
            "threshold": float(threshold), "severity": severity, "message": message, "action": action,
            "policy": str(pol.get("policy") or "")}


def _peak_ahead(policies: pd.DataFrame, as_of: pd.Timestamp, spikes: pd.DataFrame | None,
                promotions: pd.DataFrame | None, horizon_days: float) -> np.ndarray:
    """Series with a spike window or a campaign starting within ``horizon_days`` (or running)."""
    keys = pd.MultiIndex.from_frame(policies[["sku", "channel"]].astype(str))
    ahead = np.zeros(len(policies), dtype=bool)
    if "policy" in policies and "buffer_active" in policies:
        ahead |= (policies["policy"].astype(str).str.upper().eq(SEASONAL_HYBRID)
                  & policies["buffer_active"].fillna(False).astype(bool)).to_numpy()
    limit = as_of + pd.Timedelta(days=horizon_days)
    for table in (spikes, promotions):
        if table is None or table.empty or not {"sku", "channel", "start", "end"} <= set(table.columns):
            continue
        live = table[(pd.to_datetime(table["end"]) >= as_of) & (pd.to_datetime(table["start"]) <= limit)]
        ahead |= keys.isin(pd.MultiIndex.from_frame(live[["sku", "channel"]].astype(str)))
    return ahead


def detect_exceptions(
    policies: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    thresholds: ExceptionThresholds | None = None,
    run_out_probability: np.ndarray | None = None,
    sales: pd.DataFrame | None = None,
    spikes: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every exception of the published policies (see the module docstring).

    Args:
        policies: Published policy rows with stock positions (``stock_known`` False rows are skipped by
            the stock detectors).
        as_of: Planning date.
        thresholds: Limits (defaults: 90 days of cover, 25% run-out risk, 1 JIT stockout per quarter,
            3 safety-stock turns a year).
        run_out_probability: Per-row probability of running out before the next receipt (e.g.
            :func:`run_out_from_paths`); None reads the published grid (:func:`run_out_from_grid`).
        sales: The sales table, for the realized policy health (None skips it).
        spikes: Forecast spike windows ``sku, channel, start, end``.
        promotions: The promotions table (campaigns ahead).

    Returns:
        One row per exception with :data:`COLUMNS`, most severe first.
    """
    th = thresholds or ExceptionThresholds()
    as_of = pd.Timestamp(as_of).normalize()
    pol = policies.reset_index(drop=True)
    known = pol["stock_known"].fillna(False).astype(bool).to_numpy() if "stock_known" in pol else (
        np.ones(len(pol), dtype=bool))
    ip = positions(pol)
    on_hand, on_order = _col(pol, "on_hand", 0.0), _col(pol, "on_order", 0.0)
    daily = _col(pol, "daily_mean", np.nan)
    if np.isnan(daily).any() and "expected_demand" in pol:  # no grid: demand per protection day
        protect = _col(pol, "lead_time_mean", 1.0) + 7.0
        daily = np.where(np.isnan(daily), _col(pol, "expected_demand", 0.0) / np.maximum(protect, 1.0), daily)
    daily = np.nan_to_num(daily, nan=0.0)
    lead = _col(pol, "lead_time_mean", np.nan)
    up_to = _col(pol, "order_up_to", 0.0)
    prob = (run_out_from_grid(pol, ip) if run_out_probability is None
            else np.asarray(run_out_probability, dtype=float))
    ahead = _peak_ahead(pol, as_of, spikes, promotions, th.excess_cover_days)
    records = pol.to_dict("records")
    rows: list[dict[str, Any]] = []
    critical_p = min(2 * th.run_out_probability, 0.9)
    for i, rec in enumerate(records):
        if not known[i]:
            continue
        name = f"{rec['sku']}/{rec['channel']}"
        if np.isfinite(prob[i]) and prob[i] >= th.run_out_probability and daily[i] > 0:
            rows.append(_row(rec, "stockout_risk", prob[i], th.run_out_probability,
                             "critical" if prob[i] >= critical_p else "warning",
                             f"{name} has a {prob[i]:.0%} chance of running out before an order placed today "
                             f"could arrive ({lead[i]:.0f} days measured lead time): stock position "
                             f"{ip[i]:,.0f} units against {daily[i] * lead[i]:,.0f} expected demand.",
                             "Order now (expedite if the supplier can), or move stock from another channel."))
        cover = on_hand[i] / daily[i] if daily[i] > 0 else (math.inf if on_hand[i] > 0 else 0.0)
        if cover > th.excess_cover_days and not ahead[i]:
            shown = "no forecast demand" if math.isinf(cover) else f"{cover:,.0f} days of cover"
            rows.append(_row(rec, "excess_stock", min(cover, 1e6), th.excess_cover_days, "warning",
                             f"{name} holds {on_hand[i]:,.0f} units on hand: {shown}, above the "
                             f"{th.excess_cover_days:g}-day limit, with no spike or campaign ahead.",
                             "Stop ordering; consider a promotion, a transfer to a faster channel or a "
                             "return to the supplier."))
        surplus = ip[i] - max(up_to[i], daily[i] * th.excess_cover_days)
        if on_order[i] > 0 and surplus > 0 and not ahead[i]:
            cut = min(on_order[i], surplus)
            rows.append(_row(rec, "excess_on_order", cut, max(up_to[i], daily[i] * th.excess_cover_days),
                             "warning",
                             f"{name} has {on_order[i]:,.0f} units on order; with {on_hand[i]:,.0f} on "
                             f"hand the position {ip[i]:,.0f} exceeds both the order-up-to level "
                             f"{up_to[i]:,.0f} and {th.excess_cover_days:g} days of demand by {cut:,.0f} "
                             "units.",
                             f"Defer or cancel up to {cut:,.0f} units of the open order."))
    if sales is not None:
        rows.extend(_policy_health(pol, known, on_hand, sales, as_of, th))
    out = pd.DataFrame(rows, columns=COLUMNS)
    rank = out["severity"].map({"critical": 0, "warning": 1, "info": 2})
    return out.assign(_r=rank).sort_values(["_r", "kind", "sku", "channel"], kind="stable").drop(
        columns="_r").reset_index(drop=True)


def _policy_health(pol: pd.DataFrame, known: np.ndarray, on_hand: np.ndarray, sales: pd.DataFrame,
                   as_of: pd.Timestamp, th: ExceptionThresholds) -> list[dict[str, Any]]:
    start = as_of - pd.Timedelta(days=QUARTER_DAYS - 1)
    events = stockout_events(sales, start, as_of).set_index(["sku", "channel"])
    year = units_sold(sales, as_of - pd.Timedelta(days=364), as_of).set_index(["sku", "channel"])["units"]
    first = sales.groupby(["sku", "channel"], observed=True, sort=False)["date"].min()
    # Keys as strings, read per policy row below (grouping by the rows' strings instead would make two
    # object columns as long as the sales table).
    first.index = pd.MultiIndex.from_arrays(
        [first.index.get_level_values(i).astype(str) for i in range(2)], names=["sku", "channel"]
    )
    rows = []
    for i, rec in enumerate(pol.to_dict("records")):
        key = (str(rec["sku"]), str(rec["channel"]))
        name = f"{key[0]}/{key[1]}"
        policy = str(rec.get("policy") or "").upper()  # the engine's names: JIT, SAFETY_STOCK, ...
        n = int(events["stockout_events"].get(key, 0)) if key in events.index else 0
        if policy == JIT and n > th.jit_max_stockouts:
            rows.append(_row(rec, "policy_health", n, th.jit_max_stockouts, "warning",
                             f"{name} runs just-in-time but stocked out {n} times in the last quarter "
                             f"(more than {th.jit_max_stockouts:g}): the reorder point is too tight or the "
                             "lead time is longer than measured.",
                             "Check the supplier's recent lead times; move it to safety stock or raise "
                             "the JIT buffer days."))
        if policy == SAFETY_STOCK and n > 0:
            rows.append(_row(rec, "policy_health", n, 0, "critical",
                             f"{name} holds safety stock yet stocked out {n} time(s) in the last quarter.",
                             "Check that orders were placed at the reorder point and the lead time held; "
                             "raise the service level if it recurs."))
        if policy == SAFETY_STOCK and known[i] and on_hand[i] > 0 and key in first.index:
            days = min(365, (as_of - first[key]).days + 1)
            if days >= QUARTER_DAYS:
                turns = float(year.get(key, 0.0)) * 365.0 / days / on_hand[i]
                if turns < th.ss_turnover_floor:
                    rows.append(_row(rec, "policy_health", turns, th.ss_turnover_floor, "info",
                                     f"{name} turns its stock {turns:.1f} times a year, below the floor of "
                                     f"{th.ss_turnover_floor:g}: more buffer than demand justifies.",
                                     "Lower the service level or review the safety stock; consider JIT "
                                     "if the supplier is reliable."))
    return rows


__all__ = ["COLUMNS", "KINDS", "ExceptionThresholds", "detect_exceptions", "positions", "run_out_from_grid",
           "run_out_from_paths"]
