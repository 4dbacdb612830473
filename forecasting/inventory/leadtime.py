"""Supplier lead-time audit: measured lead-time distributions from ``receipts``.

A promised 4-day lead time that really averages 9 days is where stockouts live, so every policy reads
lead times from here. Each supplier (and each SKU with enough receipts of its own) gets an empirical
distribution of actual lead times in whole days, weighted by recency with an exponential decay, plus
the audit figures planners look at: mean, p90, CV, on-time rate against the promise, bias (actual -
promised) and the trend of that bias over recent quarters.

A supplier without receipts falls back to its promised lead time with an assumed CV (``fallback=True``);
a SKU without a known supplier gets a default lead time (flagged as well).

Plans follow slips (``follow_slippage``): when the slippage test of
:func:`forecasting.signals.slippage.slippage_table` finds a supplier's last quarter later or more
variable than before, its distribution (and its SKUs') is measured only on the orders placed since the
change point (the split of its receipts, by order date, with the largest two-sample t statistic of the
lead time), not on a 180-day half-life that would still be mostly the old behaviour. The row says so:
``slipped``, ``slip_since`` and ``slip_from_days`` (the mean before).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from features.dataset import Dataset

DAYS_PER_QUARTER = 91.3125


class LeadTimeConfig(BaseModel):
    """Settings of the lead-time audit (the ``[lead_time]`` table of the rules file).

    Attributes:
        half_life_days: Half-life of the recency weight of a receipt, in days.
        min_receipts_per_sku: Receipts a SKU needs for its own distribution (else its supplier's).
        fallback_cv: Coefficient of variation assumed around a promised lead time without receipts.
        default_lead_time_days: Lead time of SKUs without a known supplier.
        reliable_on_time_rate: On-time rate at or above which a supplier can be 'reliable'.
        reliable_cv: Lead-time CV at or below which a supplier can be 'reliable'.
        unreliable_on_time_rate: On-time rate below which a supplier is 'unreliable'.
        unreliable_cv: Lead-time CV above which a supplier is 'unreliable'.
        short_lead_time_days: Mean actual lead time at or below which a lead time is 'short'.
        long_lead_time_days: Mean actual lead time above which a lead time is 'long'.
        trend_quarters: Recent quarters the bias trend is fitted on.
        on_time_grace_days: Days late a receipt may be and still count as on time.
        follow_slippage: Plan a slipped supplier on its receipts since the change point.
        slippage_recent_days: Recent window of the slippage test.
    """

    model_config = ConfigDict(extra="forbid")

    half_life_days: float = Field(default=180.0, gt=0)
    min_receipts_per_sku: int = Field(default=5, ge=1)
    fallback_cv: float = Field(default=0.3, ge=0, le=2)
    default_lead_time_days: float = Field(default=14.0, gt=0)
    reliable_on_time_rate: float = Field(default=0.9, ge=0, le=1)
    reliable_cv: float = Field(default=0.25, ge=0)
    unreliable_on_time_rate: float = Field(default=0.7, ge=0, le=1)
    unreliable_cv: float = Field(default=0.5, ge=0)
    short_lead_time_days: float = Field(default=7.0, gt=0)
    long_lead_time_days: float = Field(default=21.0, gt=0)
    trend_quarters: int = Field(default=4, ge=2)
    on_time_grace_days: float = Field(default=1.0, ge=0)
    follow_slippage: bool = True
    slippage_recent_days: int = Field(default=91, ge=7)


@dataclass(frozen=True)
class LeadTimeDistribution:
    """A discrete distribution of lead times in whole days.

    Attributes:
        days: Support, integer days >= 1, sorted and unique.
        weights: Probabilities aligned with ``days`` (sum to 1).
        source: 'sku', 'supplier', 'promised' (fallback) or 'default' (no supplier).
    """

    days: np.ndarray
    weights: np.ndarray
    source: str

    @property
    def mean(self) -> float:
        """Expected lead time in days."""
        return float(np.dot(self.days, self.weights))

    @property
    def std(self) -> float:
        """Standard deviation of the lead time in days."""
        return float(np.sqrt(np.dot((self.days - self.mean) ** 2, self.weights)))

    def quantile(self, q: float) -> float:
        """Smallest lead time whose cumulative probability reaches ``q``."""
        cdf = np.cumsum(self.weights)
        return float(self.days[min(int(np.searchsorted(cdf, q - 1e-12)), len(self.days) - 1)])

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draw lead times (int days) of the given shape."""
        return rng.choice(self.days, size=size, p=self.weights)

    @classmethod
    def from_samples(
        cls, days: np.ndarray, weights: np.ndarray | None = None, source: str = "supplier"
    ) -> LeadTimeDistribution:
        """Empirical distribution of observed lead times (rounded to whole days, at least 1)."""
        values = np.maximum(np.rint(np.asarray(days, dtype=float)), 1).astype(int)
        w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
        support, inverse = np.unique(values, return_inverse=True)
        probs = np.bincount(inverse, weights=w, minlength=len(support))
        return cls(support, probs / probs.sum(), source)

    @classmethod
    def around(cls, mean_days: float, cv: float, source: str) -> LeadTimeDistribution:
        """A gamma distribution with this mean and CV, discretised to whole days >= 1.

        Used when nothing was measured: gamma keeps lead times positive and right-skewed, the usual
        shape of supplier delays.
        """
        mean_days = max(float(mean_days), 1.0)
        if cv <= 0:
            return cls(np.array([round(mean_days)]), np.array([1.0]), source)
        shape = 1.0 / cv**2
        dist = stats.gamma(shape, scale=mean_days / shape)
        hi = max(int(np.ceil(dist.ppf(0.999))), 2)
        days = np.arange(1, hi + 1)
        # Probability mass of [d - 0.5, d + 0.5); day 1 also takes everything below 0.5.
        cdf = dist.cdf(days + 0.5)
        probs = np.diff(np.concatenate([[0.0], cdf]))
        keep = probs > 0
        return cls(days[keep], probs[keep] / probs[keep].sum(), source)


@dataclass
class LeadTimeAudit:
    """Result of :func:`audit_lead_times`.

    Attributes:
        suppliers: One row per supplier: ``supplier, n_receipts, promised_days, mean_days, p50_days,
            p90_days, cv, on_time_rate, bias_days, bias_trend_per_quarter, reliability, length,
            fallback``.
        skus: One row per SKU with at least ``min_receipts_per_sku`` receipts, same figures plus ``sku``.
        distributions: Lead-time distribution per supplier (key ``supplier``).
        sku_distributions: Lead-time distribution per SKU with enough receipts of its own.
        sku_supplier: Supplier of each SKU (from ``skus``; NaN-free).
        config: The settings used.
    """

    suppliers: pd.DataFrame
    skus: pd.DataFrame
    distributions: dict[str, LeadTimeDistribution]
    sku_distributions: dict[str, LeadTimeDistribution]
    sku_supplier: dict[str, str]
    config: LeadTimeConfig = field(default_factory=LeadTimeConfig)

    def for_sku(self, sku: str) -> LeadTimeDistribution:
        """The lead-time distribution a SKU should plan with: its own, its supplier's, or the default."""
        if sku in self.sku_distributions:
            return self.sku_distributions[sku]
        supplier = self.sku_supplier.get(sku)
        if supplier is not None and supplier in self.distributions:
            return self.distributions[supplier]
        return LeadTimeDistribution.around(
            self.config.default_lead_time_days, self.config.fallback_cv, "default"
        )



def _change_point(group: pd.DataFrame, min_side: int) -> pd.Timestamp | None:
    """Order date where the lead time shifted most (largest two-sample t statistic), or None."""
    ordered = group.sort_values("ordered_on")
    days = ordered["actual_days"].to_numpy(dtype=float)
    n = len(days)
    if n < 2 * min_side:
        return None
    best, where = 0.0, None
    cum, cum2 = np.cumsum(days), np.cumsum(days**2)
    for k in range(min_side, n - min_side + 1):
        m1, m2 = cum[k - 1] / k, (cum[-1] - cum[k - 1]) / (n - k)
        v1 = max(cum2[k - 1] / k - m1**2, 0.0)
        v2 = max((cum2[-1] - cum2[k - 1]) / (n - k) - m2**2, 0.0)
        t = abs(m2 - m1) / np.sqrt((v1 + 1.0) / k + (v2 + 1.0) / (n - k))
        if t > best:
            best, where = t, ordered["ordered_on"].iloc[k]
    return where


def _slip(group: pd.DataFrame, supplier: str, as_of: pd.Timestamp,
          cfg: LeadTimeConfig) -> tuple[pd.Timestamp, float] | None:
    """``(since, mean before)`` when the supplier's recent lead times slipped, else None."""
    from forecasting.signals.slippage import slippage_table

    table = slippage_table(group.assign(supplier=supplier), as_of=as_of,
                           recent_days=cfg.slippage_recent_days, min_receipts=cfg.min_receipts_per_sku)
    if table.empty or not bool(table["later"].iloc[0] or table["more_variable"].iloc[0]):
        return None
    since = _change_point(group, cfg.min_receipts_per_sku)
    if since is None:
        return None
    before = group.loc[group["ordered_on"] < since, "actual_days"]
    return since, float(before.mean()) if len(before) else float("nan")


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cdf = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(int(np.searchsorted(cdf, q - 1e-12)), len(values) - 1)])


def _bias_trend(received: pd.Series, bias: pd.Series, as_of: pd.Timestamp, quarters: int) -> float:
    """Least-squares slope of the bias (days) per quarter over the last ``quarters`` quarters."""
    age_q = (as_of - received).dt.days.to_numpy(dtype=float) / DAYS_PER_QUARTER
    keep = (age_q < quarters) & bias.notna().to_numpy()
    if keep.sum() < 3 or np.ptp(age_q[keep]) < 1.0:
        return float("nan")  # needs receipts spread over at least a quarter to mean anything
    x = -age_q[keep]
    return float(np.polyfit(x, bias.to_numpy(dtype=float)[keep], 1)[0])


def _label(row: dict[str, float], cfg: LeadTimeConfig) -> tuple[str, str]:
    on_time, cv, mean = row["on_time_rate"], row["cv"], row["mean_days"]
    if np.isnan(on_time):
        on_time = 1.0 if cv <= cfg.reliable_cv else 0.0  # no promise known: judge by spread alone
    if on_time < cfg.unreliable_on_time_rate or cv > cfg.unreliable_cv:
        reliability = "unreliable"
    elif on_time >= cfg.reliable_on_time_rate and cv <= cfg.reliable_cv:
        reliability = "reliable"
    else:
        reliability = "variable"
    if mean <= cfg.short_lead_time_days:
        length = "short"
    elif mean > cfg.long_lead_time_days:
        length = "long"
    else:
        length = "medium"
    return reliability, length


def _summarise(
    group: pd.DataFrame, as_of: pd.Timestamp, promised: float, cfg: LeadTimeConfig
) -> tuple[dict[str, float | str | bool], LeadTimeDistribution]:
    actual = group["actual_days"].to_numpy(dtype=float)
    weights = group["weight"].to_numpy(dtype=float)
    mean = float(np.average(actual, weights=weights))
    std = float(np.sqrt(np.average((actual - mean) ** 2, weights=weights)))
    on_time = group["on_time"].dropna()
    w_on = group.loc[on_time.index, "weight"]
    row: dict[str, float | str | bool] = {
        "n_receipts": len(group),
        "promised_days": promised,
        "mean_days": mean,
        "p50_days": _weighted_quantile(actual, weights, 0.5),
        "p90_days": _weighted_quantile(actual, weights, 0.9),
        "cv": std / mean if mean > 0 else 0.0,
        "on_time_rate": float(np.average(on_time, weights=w_on)) if len(on_time) else float("nan"),
        "bias_days": float(np.average(group["bias"].dropna(), weights=group.loc[group["bias"].notna(),
                                                                               "weight"]))
        if group["bias"].notna().any() else float("nan"),
        "bias_trend_per_quarter": _bias_trend(group["received_on"], group["bias"], as_of,
                                              cfg.trend_quarters),
        "fallback": False,
    }
    row["reliability"], row["length"] = _label(row, cfg)  # type: ignore[arg-type]
    return row, LeadTimeDistribution.from_samples(actual, weights)


def audit_lead_times(
    data: Dataset, as_of: pd.Timestamp | str | None = None, config: LeadTimeConfig | None = None
) -> LeadTimeAudit:
    """Measure every supplier's (and well-observed SKU's) actual lead times.

    Args:
        data: Validated tables; reads ``receipts``, ``suppliers`` and ``skus`` (each may be None).
        as_of: Receipts received after this date are ignored; recency weights count back from it.
            Defaults to the last sales date.
        config: Audit settings; defaults to :class:`LeadTimeConfig`.

    Returns:
        The audit: tables per supplier and per SKU, and the distributions policies draw from.
    """
    cfg = config or LeadTimeConfig()
    as_of = pd.Timestamp(as_of) if as_of is not None else data.end_date
    suppliers = data.suppliers if data.suppliers is not None else pd.DataFrame(
        {"supplier": pd.Series(dtype=str), "promised_lead_time_days": pd.Series(dtype=float)})
    promised = dict(zip(suppliers["supplier"], suppliers["promised_lead_time_days"].astype(float),
                        strict=True))
    sku_supplier: dict[str, str] = {}
    if data.skus is not None and "supplier" in data.skus:
        known = data.skus.dropna(subset=["supplier"])
        sku_supplier = dict(zip(known["sku"].astype(str), known["supplier"].astype(str), strict=True))

    rec = data.receipts
    if rec is None:
        rec = pd.DataFrame(columns=["supplier", "ordered_on", "received_on", "sku", "promised_on"])
    rec = rec[pd.to_datetime(rec["received_on"]) <= as_of].copy()
    rec["ordered_on"] = pd.to_datetime(rec["ordered_on"])
    rec["received_on"] = pd.to_datetime(rec["received_on"])
    rec["actual_days"] = (rec["received_on"] - rec["ordered_on"]).dt.days.astype(float)
    promised_days = rec["supplier"].map(promised).astype(float)
    if "promised_on" in rec:
        from_date = (pd.to_datetime(rec["promised_on"]) - rec["ordered_on"]).dt.days.astype(float)
        promised_days = from_date.fillna(promised_days)
    rec["promised_days"] = promised_days
    rec["bias"] = rec["actual_days"] - rec["promised_days"]
    in_time = rec["actual_days"] <= rec["promised_days"] + cfg.on_time_grace_days
    rec["on_time"] = np.where(rec["promised_days"].isna(), np.nan, in_time.astype(float))
    rec["weight"] = 0.5 ** ((as_of - rec["received_on"]).dt.days.to_numpy(dtype=float) / cfg.half_life_days)

    rows, dists = [], {}
    slipped: dict[str, pd.Timestamp] = {}
    all_suppliers = sorted(set(promised) | set(rec["supplier"].astype(str)))
    for supplier in all_suppliers:
        group = rec[rec["supplier"] == supplier]
        promise = promised.get(supplier, float("nan"))
        if group.empty:
            base = promise if not np.isnan(promise) else cfg.default_lead_time_days
            dist = LeadTimeDistribution.around(base, cfg.fallback_cv, "promised")
            row: dict[str, float | str | bool] = {
                "n_receipts": 0, "promised_days": promise, "mean_days": dist.mean,
                "p50_days": dist.quantile(0.5), "p90_days": dist.quantile(0.9),
                "cv": dist.std / dist.mean, "on_time_rate": float("nan"), "bias_days": float("nan"),
                "bias_trend_per_quarter": float("nan"), "reliability": "unknown",
                "length": _label({"on_time_rate": 0.0, "cv": 0.0, "mean_days": dist.mean}, cfg)[1],
                "fallback": True,
            }
        else:
            slip = _slip(group, supplier, as_of, cfg) if cfg.follow_slippage else None
            if slip is not None:
                group = group[group["ordered_on"] >= slip[0]]
                slipped[supplier] = slip[0]
            row, dist = _summarise(group, as_of, promise, cfg)
            row["slipped"] = slip is not None
            row["slip_since"] = str(slip[0].date()) if slip is not None else ""
            row["slip_from_days"] = slip[1] if slip is not None else float("nan")
        rows.append({"supplier": supplier, **row})
        dists[supplier] = dist

    sku_rows, sku_dists = [], {}
    if "sku" in rec:
        with_sku = rec.dropna(subset=["sku"])
        # A slipped supplier's SKUs plan on the orders since its change point too.
        since = pd.to_datetime(with_sku["supplier"].astype(str).map(slipped))
        with_sku = with_sku[since.isna() | (with_sku["ordered_on"] >= since)]
        counts = with_sku["sku"].value_counts()
        for sku in sorted(counts[counts >= cfg.min_receipts_per_sku].index.astype(str)):
            group = with_sku[with_sku["sku"] == sku]
            supplier = str(group["supplier"].iloc[-1])
            row, dist = _summarise(group, as_of, promised.get(supplier, float("nan")), cfg)
            sku_rows.append({"sku": sku, "supplier": supplier, **row})
            sku_dists[sku] = LeadTimeDistribution(dist.days, dist.weights, "sku")

    columns = ["n_receipts", "promised_days", "mean_days", "p50_days", "p90_days", "cv", "on_time_rate",
               "bias_days", "bias_trend_per_quarter", "reliability", "length", "fallback"]
    supplier_table = pd.DataFrame(rows, columns=["supplier", *columns, "slipped", "slip_since",
                                                 "slip_from_days"])
    supplier_table["slipped"] = supplier_table["slipped"].eq(True)
    return LeadTimeAudit(
        suppliers=supplier_table,
        skus=pd.DataFrame(sku_rows, columns=["sku", "supplier", *columns]),
        distributions=dists,
        sku_distributions=sku_dists,
        sku_supplier=sku_supplier,
        config=cfg,
    )
