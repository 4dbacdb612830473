"""Realized KPIs from operating data: are the policies working on real operations (not in the simulator)?

Per quarter (91-day windows ending on ``as_of``) and per group of policy and ABC class:

- ``stockout_rate``: stockout days (``in_stock = 0``) / days observed; ``stockout_events_per_sku``:
  events (runs of stockout days) per SKU-channel in the quarter.
- ``turnover``: cost of goods sold over the quarter, annualised (x 365/91), / average inventory value.
- ``days_of_inventory``: average inventory value / daily cost of goods sold (= 365 / turnover).
- ``carrying_cost_pct``: ``holding_rate`` x average inventory value x 91/365 / revenue, in %.
- ``cash_cycle_days`` (cash-to-inventory cycle): cash is committed when an order is placed and comes
  back when the goods sell: the mean supplier lead time of the group's SKUs + days of inventory.
- ``returns_rate``: returned / sold units, where the sales table has a ``returns`` column.

Units are net of returns. Revenue uses the sales ``price`` column when present, else the SKU's
``unit_price``; costs use ``unit_cost`` (1 per unit without a ``skus`` table: the value KPIs are then in
units). The daily inventory level is reconstructed backwards from the inventory snapshot:
``level(t) = on_hand(T) + net units sold in (t, T] - units received in (t, T]`` (receipts with ``sku``
and ``qty``; each SKU's receipts shared over its channels by their snapshot stock, else their sales),
clipped at zero. Per supplier and quarter: receipts, lead-time mean and variance (days), on-time rate
(received on or before ``promised_on``, else the supplier's promised lead time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.keys import key_text
from forecasting.inventory.stockouts import KEY, net_units, stockout_events

QUARTER_DAYS = 91
GROUP_COLUMNS = [
    "quarter_end", "policy", "abc", "n_series", "units", "revenue", "cogs", "avg_inventory_value",
    "stockout_rate", "stockout_events_per_sku", "turnover", "days_of_inventory", "carrying_cost_pct",
    "lead_time_mean", "cash_cycle_days", "returns_rate",
]
SUPPLIER_COLUMNS = [
    "quarter_end", "supplier", "n_receipts", "lead_time_mean", "lead_time_var", "on_time_rate",
]


@dataclass(frozen=True)
class OperatingKpis:
    """Realized KPIs.

    Attributes:
        groups: Per quarter and (policy, abc), plus ``policy = "all"`` / ``abc = "all"`` totals
            (:data:`GROUP_COLUMNS`).
        suppliers: Per quarter and supplier (:data:`SUPPLIER_COLUMNS`).
        series: Per quarter and SKU-channel: the figures the groups add up.
    """

    groups: pd.DataFrame
    suppliers: pd.DataFrame
    series: pd.DataFrame


def check_holding_rate(holding_rate: float) -> None:
    """Raise ValueError unless ``0 < holding_rate < 1``."""
    if not isinstance(holding_rate, int | float) or not np.isfinite(holding_rate) or not 0 < holding_rate < 1:
        raise ValueError("The 'holding_rate' must be a yearly fraction in (0, 1), e.g. 0.25. "
                         f"Got {holding_rate!r}.")


def _series_prices(data: Dataset, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per SKU-channel ``unit_cost`` and ``unit_price`` (1.0 when unknown)."""
    if data.skus is None:
        return np.ones(len(keys)), np.ones(len(keys))
    master = data.skus.assign(sku=data.skus["sku"].astype(str)).drop_duplicates("sku").set_index("sku")
    out = []
    for col in ("unit_cost", "unit_price"):
        values = keys["sku"].map(master[col]) if col in master else pd.Series(np.nan, index=keys.index)
        out.append(pd.to_numeric(values, errors="coerce").fillna(1.0).to_numpy(dtype=float))
    return out[0], out[1]


def inventory_levels(data: Dataset, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Daily end-of-day stock per SKU-channel over ``[start, end]``, reconstructed from the snapshot.

    Returns:
        ``sku, channel, date, level``; empty without an inventory table.
    """
    if data.inventory is None:
        return pd.DataFrame(columns=[*KEY, "date", "level"])
    inv = data.inventory.assign(sku=data.inventory["sku"].astype(str),
                                channel=data.inventory["channel"].astype(str))
    snap_day = pd.Timestamp(inv["as_of"].max()) if "as_of" in inv and inv["as_of"].notna().any() else (
        data.sales["date"].max())
    days = pd.date_range(min(start, snap_day), max(end, snap_day), freq="D")
    sales = data.sales[(data.sales["date"] > days[0]) & (data.sales["date"] <= snap_day)]
    sold = key_text(sales, KEY).assign(date=sales["date"].to_numpy(), units=net_units(sales).to_numpy())
    grid = inv[KEY].merge(pd.DataFrame({"date": days}), how="cross")
    daily_sold = sold.groupby([*KEY, "date"], observed=True)["units"].sum().reset_index()
    grid = grid.merge(daily_sold, on=[*KEY, "date"], how="left")
    grid["units"] = grid["units"].fillna(0.0)
    grid["received"] = _received_by_channel(data, inv, sold, days, snap_day, grid)
    grid = grid.sort_values([*KEY, "date"], kind="stable").reset_index(drop=True)
    # Flow after each day up to the snapshot: sum over (t, T] of units - received, a reversed cumulative sum.
    flow = (grid["units"] - grid["received"]).where(grid["date"] <= snap_day, 0.0)
    by = [grid["sku"], grid["channel"]]
    after = flow.groupby(by, observed=True).transform("sum") - flow.groupby(by, observed=True).cumsum()
    on_hand = grid[KEY].merge(inv[[*KEY, "on_hand"]], on=KEY, how="left")["on_hand"].fillna(0.0).to_numpy()
    grid["level"] = np.maximum(on_hand + after.to_numpy(), 0.0)
    keep = (grid["date"] >= start) & (grid["date"] <= end)
    return grid.loc[keep, [*KEY, "date", "level"]].reset_index(drop=True)


def _received_by_channel(data: Dataset, inv: pd.DataFrame, sold: pd.DataFrame, days: pd.DatetimeIndex,
                         snap_day: pd.Timestamp, grid: pd.DataFrame) -> np.ndarray:
    rec = data.receipts
    if rec is None or not {"sku", "qty"} <= set(rec.columns):
        return np.zeros(len(grid))
    rec = rec[rec["sku"].notna() & rec["qty"].notna()]
    rec = rec[(rec["received_on"] > days[0]) & (rec["received_on"] <= snap_day)]
    if rec.empty:
        return np.zeros(len(grid))
    daily = (rec.assign(sku=rec["sku"].astype(str))
             .groupby(["sku", "received_on"], observed=True)["qty"].sum()
             .reset_index())
    weight = inv.set_index(KEY)["on_hand"].astype(float)
    by_sales = sold.groupby(KEY, observed=True)["units"].sum().reindex(weight.index).fillna(0.0)
    sku_of = weight.index.get_level_values(0)
    stock_total = weight.groupby(sku_of, observed=True).transform("sum")
    sales_total = by_sales.groupby(sku_of, observed=True).transform("sum")
    n_channels = weight.groupby(sku_of, observed=True).transform("size")
    share = np.where(stock_total > 0, weight / stock_total.where(stock_total > 0, 1.0),
                     np.where(sales_total > 0, by_sales / sales_total.where(sales_total > 0, 1.0),
                              1.0 / n_channels))
    shares = pd.DataFrame({"share": share}, index=weight.index).reset_index()
    got = grid[[*KEY, "date"]].merge(shares, on=KEY, how="left").merge(
        daily.rename(columns={"received_on": "date"}), on=["sku", "date"], how="left")
    return (got["qty"].fillna(0.0) * got["share"].fillna(0.0)).to_numpy()


def operating_kpis(
    data: Dataset,
    segments: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    *,
    quarters: int = 4,
    holding_rate: float = 0.25,
    lead_times: pd.DataFrame | None = None,
) -> OperatingKpis:
    """Realized KPIs of the last ``quarters`` quarters (see the module docstring).

    Args:
        data: Validated tables (sales with ``in_stock``/``returns``/``price`` when available, skus,
            suppliers, receipts, inventory).
        segments: ``sku, channel, policy, abc`` (e.g. the published policies); other series count as
            ``policy = "unplanned"``.
        as_of: Last day of the last quarter (default: the last sales date).
        quarters: Quarters back, >= 1.
        holding_rate: Yearly holding cost as a fraction of inventory value, in (0, 1).
        lead_times: ``sku, lead_time_mean`` for the cash cycle (default: measured from receipts).

    Raises:
        ValueError: A bad ``quarters`` or ``holding_rate`` (the message names the fix).
    """
    check_holding_rate(holding_rate)
    if not isinstance(quarters, int) or not 1 <= quarters <= 20:
        raise ValueError(f"The 'quarters' must be a whole number in 1..20. Got {quarters!r}.")
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else data.sales["date"].max()
    first = as_of - pd.Timedelta(days=quarters * QUARTER_DAYS - 1)
    levels = inventory_levels(data, first, as_of)
    series = []
    for q in range(quarters):
        end = as_of - pd.Timedelta(days=q * QUARTER_DAYS)
        series.append(_quarter_series(data, levels, end - pd.Timedelta(days=QUARTER_DAYS - 1), end))
    per_series = pd.concat(series, ignore_index=True)
    seg = segments[[*KEY, *(c for c in ("policy", "abc") if c in segments)]].astype(str)
    per_series = per_series.merge(seg, on=KEY, how="left")
    per_series["policy"] = per_series.get("policy", pd.Series(index=per_series.index)).fillna("unplanned")
    per_series["abc"] = per_series.get("abc", pd.Series(index=per_series.index)).fillna("-")
    suppliers = supplier_kpis(data, as_of, quarters)
    lead = _sku_lead_times(data, lead_times)
    per_series["lead_time_mean"] = per_series["sku"].map(lead).astype(float)
    groups = _groups(per_series, holding_rate)
    return OperatingKpis(groups, suppliers, per_series)


def _quarter_series(data: Dataset, levels: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
                    ) -> pd.DataFrame:
    sales = data.sales[(data.sales["date"] >= start) & (data.sales["date"] <= end)]
    frame = key_text(sales, KEY).assign(units=net_units(sales).to_numpy())
    frame["returns"] = pd.to_numeric(sales["returns"], errors="coerce").fillna(0.0).to_numpy() if (
        "returns" in sales) else 0.0
    frame["gross"] = pd.to_numeric(sales["units"], errors="coerce").fillna(0.0).to_numpy()
    if "price" in sales:
        frame["price"] = pd.to_numeric(sales["price"], errors="coerce").to_numpy()
    sums = frame.groupby(KEY, sort=True, observed=True).agg(units=("units", "sum"), gross=("gross", "sum"),
                                             returns=("returns", "sum"))
    keys = sums.index.to_frame(index=False)
    cost, unit_price = _series_prices(data, keys)
    if "price" in frame:
        priced = frame.assign(value=frame["units"] * frame["price"])
        revenue = (priced.groupby(KEY, sort=True, observed=True)["value"].sum(min_count=1)
                   .reindex(sums.index).to_numpy())
        revenue = np.where(np.isnan(revenue), sums["units"].to_numpy() * unit_price, revenue)
    else:
        revenue = sums["units"].to_numpy() * unit_price
    out = keys.assign(units=sums["units"].to_numpy(), returns=sums["returns"].to_numpy(),
                      gross_units=sums["gross"].to_numpy(), revenue=revenue,
                      cogs=sums["units"].to_numpy() * cost)
    window = levels[(levels["date"] >= start) & (levels["date"] <= end)]
    avg = window.groupby(KEY, observed=True)["level"].mean()
    avg_units = pd.MultiIndex.from_frame(keys).map(lambda k: avg.get(k, np.nan)).to_numpy(dtype=float)
    out["avg_inventory_value"] = avg_units * cost
    events = stockout_events(data.sales, start, end)
    out = out.merge(events, on=KEY, how="left")
    out["quarter_end"] = end
    out["has_returns"] = "returns" in data.sales
    return out


def _sku_lead_times(data: Dataset, given: pd.DataFrame | None) -> pd.Series:
    if given is not None:
        return (given.assign(sku=given["sku"].astype(str)).groupby("sku", observed=True)["lead_time_mean"]
                .mean())
    rec = data.receipts
    if rec is None or "sku" not in rec or rec.empty:
        return pd.Series(dtype=float)
    days = (rec["received_on"] - rec["ordered_on"]).dt.days
    return days.groupby(rec["sku"].astype(str)).mean()


def _groups(per_series: pd.DataFrame, holding_rate: float) -> pd.DataFrame:
    parts = []
    for policy_all, abc_all in ((False, False), (False, True), (True, True)):
        frame = per_series.assign(policy="all" if policy_all else per_series["policy"],
                                  abc="all" if abc_all else per_series["abc"])
        parts.append(_aggregate(frame, holding_rate))
    return pd.concat(parts, ignore_index=True)[GROUP_COLUMNS].sort_values(
        ["quarter_end", "policy", "abc"], kind="stable").reset_index(drop=True)


def _aggregate(frame: pd.DataFrame, holding_rate: float) -> pd.DataFrame:
    g = frame.groupby(["quarter_end", "policy", "abc"], sort=True)
    out = g.agg(n_series=("sku", "size"), units=("units", "sum"), gross=("gross_units", "sum"),
                returns=("returns", "sum"), revenue=("revenue", "sum"), cogs=("cogs", "sum"),
                avg_inventory_value=("avg_inventory_value", lambda v: v.sum(min_count=1)),
                stockout_days=("stockout_days", "sum"), days_observed=("days_observed", "sum"),
                events=("stockout_events", "sum"), lead_time_mean=("lead_time_mean", "mean"),
                has_returns=("has_returns", "max")).reset_index()
    inv, cogs = out["avg_inventory_value"].to_numpy(dtype=float), out["cogs"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["stockout_rate"] = out["stockout_days"] / out["days_observed"].where(out["days_observed"] > 0)
        out["stockout_events_per_sku"] = out["events"] / out["n_series"]
        out["turnover"] = np.where(inv > 0, cogs * 365.0 / QUARTER_DAYS / inv, np.nan)
        out["days_of_inventory"] = np.where(cogs > 0, inv / (cogs / QUARTER_DAYS), np.nan)
        revenue = out["revenue"].to_numpy(dtype=float)
        carrying = 100 * holding_rate * inv * QUARTER_DAYS / 365.0
        out["carrying_cost_pct"] = np.where(revenue > 0, carrying / revenue, np.nan)
        out["returns_rate"] = np.where(out["has_returns"] & (out["gross"] > 0), out["returns"] / out["gross"],
                                       np.nan)
    out["cash_cycle_days"] = out["lead_time_mean"] + out["days_of_inventory"]
    return out


def supplier_kpis(data: Dataset, as_of: pd.Timestamp, quarters: int) -> pd.DataFrame:
    """Per quarter and supplier: receipts, lead-time mean and variance (days), on-time rate."""
    rec = data.receipts
    if rec is None or rec.empty:
        return pd.DataFrame(columns=SUPPLIER_COLUMNS)
    rec = rec.assign(lead=(rec["received_on"] - rec["ordered_on"]).dt.days.astype(float))
    promised = rec["promised_on"] if "promised_on" in rec else pd.Series(pd.NaT, index=rec.index)
    if data.suppliers is not None and "promised_lead_time_days" in data.suppliers:
        days = rec["supplier"].map(data.suppliers.set_index("supplier")["promised_lead_time_days"])
        promised = promised.fillna(rec["ordered_on"] + pd.to_timedelta(days, unit="D"))
    rec = rec.assign(on_time=np.where(promised.notna(), rec["received_on"] <= promised, np.nan))
    parts = []
    for q in range(quarters):
        end = as_of - pd.Timedelta(days=q * QUARTER_DAYS)
        start = end - pd.Timedelta(days=QUARTER_DAYS)
        window = rec[(rec["received_on"] > start) & (rec["received_on"] <= end)]
        if window.empty:
            continue
        agg = window.groupby("supplier").agg(n_receipts=("lead", "size"), lead_time_mean=("lead", "mean"),
                                             lead_time_var=("lead", "var"), on_time_rate=("on_time", "mean"))
        parts.append(agg.reset_index().assign(quarter_end=end))
    if not parts:
        return pd.DataFrame(columns=SUPPLIER_COLUMNS)
    return pd.concat(parts, ignore_index=True)[SUPPLIER_COLUMNS]


def kpi_records(kpis: OperatingKpis) -> dict[str, list[dict[str, object]]]:
    """``groups`` and ``suppliers`` as JSON-ready records (dates as ISO text, NaN as None)."""
    def records(frame: pd.DataFrame) -> list[dict[str, object]]:
        out = []
        for rec in frame.to_dict("records"):
            row: dict[str, object] = {}
            for k, v in rec.items():
                if isinstance(v, pd.Timestamp):
                    v = v.date().isoformat()
                elif isinstance(v, np.generic):
                    v = v.item()
                if isinstance(v, float) and not np.isfinite(v):
                    v = None
                row[str(k)] = v
            out.append(row)
        return out

    return {"groups": records(kpis.groups), "suppliers": records(kpis.suppliers)}


__all__ = [
    "GROUP_COLUMNS",
    "SUPPLIER_COLUMNS",
    "OperatingKpis",
    "check_holding_rate",
    "inventory_levels",
    "kpi_records",
    "operating_kpis",
    "supplier_kpis",
]
