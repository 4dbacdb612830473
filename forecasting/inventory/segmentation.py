"""Segmentation of SKU-channels and SKUs: ABC, XYZ, Syntetos-Boylan pattern, history, supplier.

The signals the policy rules read, measured on the last ``window_weeks`` of uncensored sales:

- ABC: revenue share (units x price; price from ``sales.price``, else ``skus.unit_price``, else 1).
  An item belongs to the first class whose cut-off its *preceding* cumulative share is below, so the
  item that crosses 80% still counts as A.
- XYZ: coefficient of variation of weekly demand.
- Pattern (Syntetos-Boylan-Croston): ADI (average interval between demand buckets) against 1.32 and
  CV² of the non-zero bucket sizes against 0.49. Buckets are weeks by default: replenishment is
  decided weekly, and on daily buckets nearly every e-commerce SKU would read as intermittent.
- New: fewer than ``new_history_days`` days since the first sale.

Censored (stockout) days are dropped before anything is measured: their zero is not demand. Weekly
totals are scaled up to seven days from the uncensored days of the week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.dataset import Dataset
from features.demand_pattern import ADI_CUTOFF, CV2_CUTOFF, classify_pattern
from features.schema import SERIES_KEY
from forecasting.inventory.leadtime import LeadTimeAudit

ABC_CLASSES = ("A", "B", "C")
XYZ_CLASSES = ("X", "Y", "Z")
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy")
ALL_CHANNELS = "*"


def _check_cutoffs(name: str, values: tuple[float, float], upper: float | None) -> tuple[float, float]:
    lo, hi = values
    if not lo > 0 or (upper is not None and not hi < upper) or not lo < hi:
        bound = f"0 < first < second < {upper}" if upper is not None else "0 < first < second"
        raise ValueError(
            f"The '{name}' must be two increasing cut-offs with {bound}. Got {list(values)}. "
            f"Sort them and keep them apart, e.g. [0.8, 0.95]."
        )
    return values


class SegmentationConfig(BaseModel):
    """Thresholds of the segmentation (the ``[segmentation]`` table of the rules file).

    Attributes:
        abc_cutoffs: Cumulative revenue shares closing class A and class B.
        xyz_cutoffs: Weekly-demand CVs closing class X and class Y.
        adi_cutoff: Average demand interval above which demand is intermittent/lumpy.
        cv2_cutoff: Squared CV of demand sizes above which demand is erratic/lumpy.
        pattern_bucket_days: Bucket length (days) of the ADI/CV² pattern.
        new_history_days: Series with fewer days of history are flagged new.
        window_weeks: Weeks of history measured.
    """

    model_config = ConfigDict(extra="forbid")

    abc_cutoffs: tuple[float, float] = (0.80, 0.95)
    xyz_cutoffs: tuple[float, float] = (0.5, 1.0)
    adi_cutoff: float = Field(default=ADI_CUTOFF, gt=1.0)
    cv2_cutoff: float = Field(default=CV2_CUTOFF, gt=0.0)
    pattern_bucket_days: int = Field(default=7, ge=1, le=31)
    new_history_days: int = Field(default=56, ge=0)
    window_weeks: int = Field(default=52, ge=4)

    @field_validator("abc_cutoffs")
    @classmethod
    def _abc(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _check_cutoffs("abc_cutoffs", value, 1.0)

    @field_validator("xyz_cutoffs")
    @classmethod
    def _xyz(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _check_cutoffs("xyz_cutoffs", value, None)


def _prices(data: Dataset, sales: pd.DataFrame) -> np.ndarray:
    price = sales["price"].astype(float) if "price" in sales else pd.Series(np.nan, index=sales.index)
    if data.skus is not None:
        price = price.fillna(sales["sku"].map(data.skus.set_index("sku")["unit_price"]).astype(float))
    return price.fillna(1.0).to_numpy(dtype=float)


def abc_classes(revenue: np.ndarray, cutoffs: tuple[float, float]) -> np.ndarray:
    """ABC class of each item from its revenue.

    Args:
        revenue: Revenue per item (any order).
        cutoffs: Cumulative shares closing A and B, e.g. (0.8, 0.95).

    Returns:
        Array of 'A'/'B'/'C', aligned with ``revenue``; zero-revenue items are always C.
    """
    revenue = np.asarray(revenue, dtype=float)
    out = np.full(len(revenue), "C", dtype=object)
    total = revenue.sum()
    if total <= 0:
        return out
    order = np.argsort(-revenue, kind="stable")
    cum = np.cumsum(revenue[order])
    preceding = (cum - revenue[order]) / total
    classes = np.where(preceding < cutoffs[0], "A", np.where(preceding < cutoffs[1], "B", "C"))
    classes[revenue[order] <= 0] = "C"
    out[order] = classes
    return out


def _series_stats(sales: pd.DataFrame, keys: list[str], end: pd.Timestamp,
                  cfg: SegmentationConfig) -> pd.DataFrame:
    """Per-group XYZ and pattern statistics from uncensored daily sales."""
    days_back = (end - sales["date"]).dt.days
    frame = sales[[*keys, "units"]].assign(
        week=(days_back // 7).astype(int), bucket=(days_back // cfg.pattern_bucket_days).astype(int),
        one=1.0,
    )

    def scaled(bucket_col: str, length: int) -> pd.DataFrame:
        # Scale each bucket's total to its full length from its uncensored days.
        agg = frame.groupby([*keys, bucket_col], sort=False, observed=True).agg(
            units=("units", "sum"), n=("one", "sum"))
        agg["units"] = agg["units"] * length / agg["n"]
        return agg.reset_index()

    weekly = scaled("week", 7)
    w = weekly.groupby(keys, observed=True)["units"]
    stats = pd.DataFrame({"weekly_mean": w.mean(), "weekly_std": w.std(ddof=0)})
    stats["weekly_cv"] = np.where(stats["weekly_mean"] > 0,
                                  stats["weekly_std"] / stats["weekly_mean"].where(stats["weekly_mean"] > 0),
                                  np.nan)
    buckets = scaled("bucket", cfg.pattern_bucket_days)
    b = buckets.assign(nz=buckets["units"] > 0)
    g = b.groupby(keys, observed=True)
    n_buckets = g["units"].size()
    n_nonzero = g["nz"].sum()
    nz = b[b["nz"]].groupby(keys, observed=True)["units"]
    stats["adi"] = (n_buckets / n_nonzero.where(n_nonzero > 0)).reindex(stats.index)
    cv_nz = nz.std(ddof=0) / nz.mean()
    stats["cv2"] = (cv_nz**2).reindex(stats.index).fillna(0.0)
    return stats


def segment(
    data: Dataset,
    as_of: pd.Timestamp | str | None = None,
    config: SegmentationConfig | None = None,
    audit: LeadTimeAudit | None = None,
    level: str = "sku_channel",
) -> pd.DataFrame:
    """Segment every SKU-channel (or every SKU, channels summed).

    Args:
        data: Validated tables; reads ``sales`` (with ``censored``) and ``skus``.
        as_of: Last day measured; defaults to the last sales date.
        config: Thresholds; defaults to :class:`SegmentationConfig`.
        audit: Lead-time audit, for the supplier reliability columns; omitted columns are filled with
            'unknown'.
        level: 'sku_channel' (one row per series) or 'sku' (one row per SKU, ``channel`` = '*').

    Returns:
        One row per item: ``sku, channel, revenue, revenue_share, abc, weekly_mean, weekly_cv, xyz, adi,
        cv2, pattern, history_days, is_new, supplier, lead_time_mean, lead_time_reliability,
        lead_time_length, lead_time_fallback``.
    """
    if level not in ("sku_channel", "sku"):
        raise ValueError(f"The 'level' must be 'sku_channel' or 'sku'. Got {level!r}.")
    cfg = config or SegmentationConfig()
    end = pd.Timestamp(as_of) if as_of is not None else data.end_date
    # Copy only the columns read, of the rows read: the whole sales table (on the plan stage's memory
    # peak at 30,000 series x 730 days) was copied twice here before.
    sales = data.sales
    dates = sales["date"].to_numpy()
    upto = dates <= np.datetime64(end)
    dated = sales[[*SERIES_KEY, "date"]]
    first_day = (dated if upto.all() else dated[upto]).groupby(list(SERIES_KEY), observed=True)["date"].min()
    del dated
    start = end - pd.Timedelta(days=7 * cfg.window_weeks - 1)
    keep = upto & (dates >= np.datetime64(start)) & ~sales["censored"].to_numpy(dtype=bool)
    window = sales.loc[keep, [c for c in (*SERIES_KEY, "date", "units", "price") if c in sales]]
    window = window.assign(revenue=window["units"].to_numpy(dtype=float) * _prices(data, window))
    if level == "sku":
        window = window.groupby(["sku", "date"], as_index=False, observed=True)[["units", "revenue"]].sum()
        window["channel"] = ALL_CHANNELS
        first_day = first_day.groupby(level="sku", observed=True).min()
        first_day.index = pd.MultiIndex.from_arrays(
            [first_day.index, [ALL_CHANNELS] * len(first_day)], names=list(SERIES_KEY))
    keys = list(SERIES_KEY)
    out = pd.DataFrame(index=first_day.index)
    out["revenue"] = window.groupby(keys, observed=True)["revenue"].sum().reindex(out.index).fillna(0.0)
    total = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / total if total > 0 else 0.0
    out["abc"] = abc_classes(out["revenue"].to_numpy(), cfg.abc_cutoffs)
    stats = _series_stats(window, keys, end, cfg).reindex(out.index)
    out = out.join(stats[["weekly_mean", "weekly_cv", "adi", "cv2"]])
    cv = out["weekly_cv"].to_numpy(dtype=float)
    # No demand measured at all: the most uncertain class, not the steadiest.
    out["xyz"] = np.where(np.isnan(cv), "Z", np.where(cv <= cfg.xyz_cutoffs[0], "X",
                                                       np.where(cv <= cfg.xyz_cutoffs[1], "Y", "Z")))
    out["pattern"] = classify_pattern(out["adi"].to_numpy(dtype=float), out["cv2"].to_numpy(dtype=float),
                                      cfg.adi_cutoff, cfg.cv2_cutoff)
    out["history_days"] = (end - first_day.reindex(out.index)).dt.days + 1
    out["is_new"] = out["history_days"] < cfg.new_history_days
    out = out.reset_index()
    _add_supplier(out, data, audit)
    return out


def _add_supplier(out: pd.DataFrame, data: Dataset, audit: LeadTimeAudit | None) -> None:
    supplier = pd.Series(np.nan, index=out.index, dtype=object)
    if data.skus is not None and "supplier" in data.skus:
        supplier = out["sku"].map(data.skus.set_index("sku")["supplier"])
    out["supplier"] = supplier
    if audit is None:
        out["lead_time_mean"] = np.nan
        out["lead_time_reliability"] = "unknown"
        out["lead_time_length"] = "unknown"
        out["lead_time_fallback"] = True
        out["lead_time_note"] = ""
        return
    dists = {sku: audit.for_sku(sku) for sku in out["sku"].unique()}
    out["lead_time_mean"] = out["sku"].map({k: d.mean for k, d in dists.items()})
    table = audit.suppliers.set_index("supplier")
    own = audit.skus.set_index("sku") if not audit.skus.empty else None
    reliability, length, fallback, notes = [], [], [], []
    for sku, sup in zip(out["sku"], out["supplier"], strict=True):
        notes.append(_slip_note(table, sup, dists[sku].mean))
        if own is not None and sku in own.index:
            row = own.loc[sku]
        elif isinstance(sup, str) and sup in table.index:
            row = table.loc[sup]
        else:
            reliability.append("unknown")
            length.append("unknown")
            fallback.append(True)
            continue
        reliability.append(row["reliability"])
        length.append(row["length"])
        fallback.append(bool(row["fallback"]))
    out["lead_time_reliability"] = reliability
    out["lead_time_length"] = length
    out["lead_time_fallback"] = fallback
    out["lead_time_note"] = notes


def _slip_note(table: pd.DataFrame, supplier: object, planned: float) -> str:
    """'planned on 8.4 days: SUP006 slipped from 4.0 since 2024-10-02' for a slipped supplier, else ''."""
    if not isinstance(supplier, str) or supplier not in table.index or "slipped" not in table.columns:
        return ""
    row = table.loc[supplier]
    if not bool(row["slipped"]):
        return ""
    since = str(row["slip_since"])[:10]
    before = float(row["slip_from_days"])
    return f"planned on {planned:.1f} days: {supplier} slipped from {before:.1f} since {since}"
