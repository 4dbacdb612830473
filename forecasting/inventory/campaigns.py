"""Campaign what-if: how much stock a planned campaign needs, when to order it and when to stop pushing.

A campaign lifts demand of some SKU-channels by ``uplift`` (+2.0 = +200 %) every day from ``start`` to
``end``, as a base case and a best case. For each SKU-channel and case:

- **demand**: sample paths drawn from the served daily forecast quantiles (inverse CDF by linear
  interpolation between the published levels, days drawn independently: the weekly job's joint paths
  are not stored, so the spread of multi-day totals is that of independent days), multiplied by
  ``1 + uplift`` on the campaign days;
- **stock needed**: the class's service-level quantile (the policy's ``service_level``) of the demand
  from the day after the planning date through the campaign's end: what must be on hand or arrive by
  then;
- **order quantity**: stock needed minus the position (on hand + on order - backorders), the SKU's
  channels added up and rounded once to MOQ and packs (:func:`safety_stock.round_order`);
- **order-by date**: the campaign's start minus the measured lead time (its 90th percentile, so a
  late delivery still lands in time); a date already past means "order today" and the expected
  arrival is reported;
- **stop-pushing level**: the service-level quantile of BASE-case demand over one lead time from the
  start: below it, the stock left only covers the base case until a new order could arrive, so stop
  pushing the campaign (promotion spend, placements).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.inventory.safety_stock import round_order

MAX_UPLIFT = 20.0  # +2,000 %: above it the number is almost surely a typo (percent given as a fraction)
CASES = ("base", "best")


@dataclass(frozen=True)
class Campaign:
    """A planned campaign.

    Attributes:
        skus: SKUs in the campaign.
        channels: Channels (None: every channel of each SKU).
        start: First campaign day.
        end: Last campaign day.
        uplift_base: Base-case uplift as a fraction (2.0 = +200 %); > -1.
        uplift_best: Best-case uplift (defaults to the base case).
    """

    skus: tuple[str, ...]
    channels: tuple[str, ...] | None
    start: pd.Timestamp
    end: pd.Timestamp
    uplift_base: float
    uplift_best: float | None = None

    @property
    def uplifts(self) -> dict[str, float]:
        """Uplift per case."""
        return {"base": self.uplift_base,
                "best": self.uplift_best if self.uplift_best is not None else self.uplift_base}


def check_campaign(campaign: Campaign, plan_date: pd.Timestamp, last_day: pd.Timestamp) -> None:
    """Raise ValueError naming the field, the value and the fix for a campaign that cannot be planned.

    Args:
        campaign: The campaign.
        plan_date: The served run's planning date (days up to it are the past).
        last_day: The last forecast day of the served run.
    """
    if not campaign.skus:
        raise ValueError("The field 'skus' is empty. Fix: give at least one SKU (or a category).")
    if campaign.end < campaign.start:
        raise ValueError(f"The field 'end' ({campaign.end.date()}) is before 'start' "
                         f"({campaign.start.date()}). Fix: 'end' is the campaign's last day, on or after "
                         "'start'.")
    if campaign.start <= plan_date:
        raise ValueError(f"The field 'start' ({campaign.start.date()}) is in the past: the forecasts start "
                         f"after {plan_date.date()}. Fix: plan a campaign starting "
                         f"{(plan_date + pd.Timedelta(days=1)).date()} or later.")
    if campaign.end > last_day:
        raise ValueError(f"The field 'end' ({campaign.end.date()}) is past the last forecast day "
                         f"{last_day.date()}. Fix: end the campaign by then, or forecast a longer horizon "
                         "(BLENDCAST_HORIZON) and re-run `blendcast train`.")
    for name, value in (("uplift_base", campaign.uplift_base), ("uplift_best", campaign.uplift_best)):
        if value is None:
            continue
        if not math.isfinite(value) or value <= -1.0 or value > MAX_UPLIFT:
            raise ValueError(f"The field '{name}' must be a fraction in (-1, {MAX_UPLIFT:g}] (2.0 = +200 %). "
                             f"Got {value}. Fix: give e.g. 0.5 for +50 %; -1 would be no demand at all.")
    if campaign.uplift_best is not None and campaign.uplift_best < campaign.uplift_base:
        raise ValueError(f"The field 'uplift_best' ({campaign.uplift_best}) is below 'uplift_base' "
                         f"({campaign.uplift_base}). Fix: the best case is the higher uplift.")


def draw_paths(levels: Sequence[float], quantiles: np.ndarray, n_paths: int, rng: np.random.Generator
               ) -> np.ndarray:
    """``(n_paths, days)`` demand drawn from daily quantiles ``(days, n_levels)``, days independent."""
    lv = np.asarray(levels, dtype=float)
    q = np.maximum.accumulate(np.maximum(quantiles, 0.0), axis=1)
    u = rng.uniform(lv[0], lv[-1], size=(n_paths, q.shape[0]))
    out = np.empty_like(u)
    for d in range(q.shape[0]):
        out[:, d] = np.interp(u[:, d], lv, q[d])
    return out


def what_if(
    campaign: Campaign,
    forecasts: pd.DataFrame,
    levels: Sequence[float],
    policies: pd.DataFrame,
    plan_date: pd.Timestamp,
    *,
    n_paths: int = 2000,
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The campaign's demand, stock needed, order and stop-pushing level per SKU-channel and case.

    Args:
        campaign: A checked campaign (:func:`check_campaign`).
        forecasts: Daily forecasts of the campaign's series: ``sku, channel, date`` and one column per
            level of ``levels`` (named as :func:`features.schema.quantile_column` names them).
        levels: The published quantile levels.
        policies: Policy rows of those series (``service_level``, ``lead_time_mean``, ``lead_time_p90``,
            ``on_hand``, ``on_order``, ``backorders``, ``moq``, ``pack_size``).
        plan_date: The planning date.
        n_paths: Sample paths per series.
        random_state: Seed.

    Returns:
        ``(series, orders)``: one row per SKU-channel and case (demand over the window without and with
        the campaign, its 10/50/90 % quantiles, stock needed, stop-pushing level) and one row per SKU and
        case (order quantity, order-by date, expected arrival).
    """
    from features.schema import quantile_column

    rng = np.random.default_rng(random_state)
    cols = [quantile_column(q) for q in levels]
    by_key = {(str(r["sku"]), str(r["channel"])): {str(k): v for k, v in r.items()}
              for r in policies.to_dict("records")}
    rows = []
    by_series = forecasts.sort_values("date").groupby(["sku", "channel"], sort=True, observed=True)
    for (sku, channel), fc in by_series:
        days = pd.to_datetime(fc["date"]).to_numpy()
        upto = days <= np.datetime64(campaign.end)
        window = (days >= np.datetime64(campaign.start)) & upto
        paths = draw_paths(levels, fc[cols].to_numpy(dtype=float)[upto], n_paths, rng)
        p: dict[str, Any] = by_key[(str(sku), str(channel))]
        sl = float(p.get("service_level") or 0.95)
        lead = float(p.get("lead_time_mean") or 0.0)
        lead_days = max(1, math.ceil(lead))
        from_start = np.flatnonzero(window[upto])
        stop_days = from_start[:lead_days]
        plain_window = paths[:, window[upto]].sum(axis=1)
        for case, uplift in campaign.uplifts.items():
            factor = np.where(window[upto], 1.0 + uplift, 1.0)
            lifted = paths * factor
            total = lifted.sum(axis=1)
            in_window = lifted[:, window[upto]].sum(axis=1)
            base_factor = np.where(window[upto], 1.0 + campaign.uplift_base, 1.0)
            base_lead = (paths * base_factor)[:, stop_days].sum(axis=1)
            rows.append({
                "sku": str(sku), "channel": str(channel), "case": case, "uplift": uplift, "service_level": sl,
                "window_demand_without": float(plain_window.mean()), "window_demand": float(in_window.mean()),
                "window_p10": float(np.quantile(in_window, 0.1)),
                "window_p50": float(np.quantile(in_window, 0.5)),
                "window_p90": float(np.quantile(in_window, 0.9)),
                "stock_needed": float(np.quantile(total, sl)),
                "stock_needed_without": float(np.quantile(paths.sum(axis=1), sl)),
                "stop_pushing_level": float(np.quantile(base_lead, sl)),
                "position": float((p.get("on_hand") or 0.0) + (p.get("on_order") or 0.0)
                                  - (p.get("backorders") or 0.0)),
                "lead_time_mean": lead, "lead_time_p90": float(p.get("lead_time_p90") or lead),
                "moq": float(p.get("moq") or 0.0), "pack_size": float(p.get("pack_size") or 1.0),
            })
    series = pd.DataFrame(rows)
    if series.empty:
        return series, pd.DataFrame()
    return series, _orders(series, campaign, plan_date)


def _orders(series: pd.DataFrame, campaign: Campaign, plan_date: pd.Timestamp) -> pd.DataFrame:
    need = series.assign(short=np.maximum(series["stock_needed"] - series["position"], 0.0))
    g = need.groupby(["sku", "case"], sort=True, observed=True)
    out = g.agg(short=("short", "sum"), moq=("moq", "first"), pack_size=("pack_size", "first"),
                lead_p90=("lead_time_p90", "max"), lead=("lead_time_mean", "max"),
                stock_needed=("stock_needed", "sum"), position=("position", "sum")).reset_index()
    out["order_qty"] = round_order(out["short"].to_numpy(), out["moq"].to_numpy(),
                                   out["pack_size"].to_numpy())
    latest = pd.Series(campaign.start - pd.to_timedelta(np.ceil(out["lead_p90"].to_numpy()), unit="D"),
                       index=out.index)
    first = plan_date + pd.Timedelta(days=1)
    out["order_by"] = latest.where(latest >= first, first)
    out["late"] = (latest < first).to_numpy()
    out["expected_arrival"] = out["order_by"] + pd.to_timedelta(np.ceil(out["lead"].to_numpy()), unit="D")
    out.loc[out["order_qty"] <= 0, ["order_by", "expected_arrival"]] = pd.NaT
    out.loc[out["order_qty"] <= 0, "late"] = False
    return out.drop(columns=["short", "lead", "lead_p90"])


__all__ = ["CASES", "MAX_UPLIFT", "Campaign", "check_campaign", "draw_paths", "what_if"]
