"""Supplier slippage: a supplier whose deliveries of the last quarter take longer, or vary more, than
they used to, and the just-in-time SKU-channels it puts at risk.

A JIT series keeps almost no buffer and orders against the *measured* lead time; when that lead time
drifts, the reorder point is stale before the audit's recency-weighted averages catch up. So the
recent quarter is tested against the earlier history on its own:

- later: one-sided Mann-Whitney U (recent lead times larger), and at least ``min_extra_days`` and
  ``min_ratio`` times the earlier mean;
- more variable: Brown-Forsythe (Levene around medians), and a standard deviation at least
  ``sd_ratio`` times the earlier one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.stats import levene, mannwhitneyu

from features.checks import ParamCheck, check_params, is_number, is_whole
from forecasting.signals.alerts import make_alert

logger = logging.getLogger(__name__)

SLIPPAGE_COLUMNS: Final = [
    "supplier", "n_earlier", "n_recent", "earlier_mean_days", "recent_mean_days", "earlier_sd_days",
    "recent_sd_days", "promised_days", "p_later", "p_spread", "later", "more_variable",
]

_CHECKS: Final = {
    "recent_days": ParamCheck(lambda v: is_whole(v, 7), "a whole number of days >= 7 (e.g. 91)"),
    "min_extra_days": ParamCheck(lambda v: is_number(v) and v >= 0, "a number of days >= 0"),
    "min_ratio": ParamCheck(lambda v: is_number(v) and v >= 1.0, "a ratio >= 1 (e.g. 1.1)"),
    "sd_ratio": ParamCheck(lambda v: is_number(v) and v >= 1.0, "a ratio >= 1 (e.g. 1.5)"),
    "alpha": ParamCheck(lambda v: is_number(v) and 0.0 < v < 1.0, "a significance level in (0, 1)"),
    "min_receipts": ParamCheck(lambda v: is_whole(v, 2), "a whole number >= 2"),
}


def slippage_table(
    receipts: pd.DataFrame,
    *,
    as_of: pd.Timestamp | str | None = None,
    recent_days: int = 91,
    min_extra_days: float = 2.0,
    min_ratio: float = 1.1,
    sd_ratio: float = 1.5,
    alpha: float = 0.01,
    min_receipts: int = 5,
    suppliers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Compare each supplier's last-quarter lead times with its earlier ones.

    Args:
        receipts: The canonical ``receipts`` table (``supplier, ordered_on, received_on``).
        as_of: End of the recent window; defaults to the last ``received_on``.
        recent_days: Length of the recent window (by receipt date).
        min_extra_days: Least increase of the mean lead time that counts as slippage.
        min_ratio: Least ratio of recent to earlier mean lead time that counts.
        sd_ratio: Least ratio of recent to earlier standard deviation that counts.
        alpha: Significance level of both tests.
        min_receipts: Least receipts needed on each side to judge a supplier.
        suppliers: Optional ``suppliers`` table, for the promised lead time in the output.

    Returns:
        One row per supplier judged, columns :data:`SLIPPAGE_COLUMNS`; ``later`` and
        ``more_variable`` say which degradation was found.

    Raises:
        ValueError: If a parameter is out of range or ``receipts`` lacks its columns.
    """
    check_params("detect_slippage", _CHECKS, recent_days=recent_days, min_extra_days=min_extra_days,
                 min_ratio=min_ratio, sd_ratio=sd_ratio, alpha=alpha, min_receipts=min_receipts)
    missing = [c for c in ("supplier", "ordered_on", "received_on") if c not in receipts.columns]
    if missing:
        raise ValueError(f"Table 'receipts' lacks the column(s) {missing}. Give supplier, ordered_on, "
                         "received_on (one row per received purchase order).")
    rec = receipts.assign(
        ordered_on=pd.to_datetime(receipts["ordered_on"]), received_on=pd.to_datetime(receipts["received_on"])
    )
    end = pd.Timestamp(as_of) if as_of is not None else rec["received_on"].max()
    rec = rec[rec["received_on"] <= end]
    rec = rec.assign(days=(rec["received_on"] - rec["ordered_on"]).dt.days.astype(float))
    cut = end - pd.Timedelta(days=recent_days)
    promised: dict[str, float] = {}
    if suppliers is not None:
        promised = dict(zip(suppliers["supplier"].astype(str), suppliers["promised_lead_time_days"],
                            strict=True))
    rows = []
    for supplier, group in rec.groupby(rec["supplier"].astype(str)):
        recent = group.loc[group["received_on"] > cut, "days"].to_numpy()
        earlier = group.loc[group["received_on"] <= cut, "days"].to_numpy()
        if len(recent) < min_receipts or len(earlier) < min_receipts:
            continue
        p_later = float(mannwhitneyu(recent, earlier, alternative="greater").pvalue)
        varies = np.ptp(group["days"].to_numpy()) > 0
        p_spread = float(levene(recent, earlier, center="median").pvalue) if varies else 1.0
        m_old, m_new = float(earlier.mean()), float(recent.mean())
        s_old, s_new = float(earlier.std(ddof=1)), float(recent.std(ddof=1))
        later = p_later < alpha and m_new - m_old >= min_extra_days and m_new >= min_ratio * m_old
        # A supplier that never varied and now varies a day is not an alarm: the floor is one day.
        wider = p_spread < alpha and s_new >= sd_ratio * max(s_old, 1.0) and s_new > s_old
        rows.append({
            "supplier": supplier, "n_earlier": len(earlier), "n_recent": len(recent),
            "earlier_mean_days": m_old, "recent_mean_days": m_new, "earlier_sd_days": s_old,
            "recent_sd_days": s_new, "promised_days": promised.get(str(supplier), np.nan),
            "p_later": p_later, "p_spread": p_spread, "later": later, "more_variable": wider,
        })
    return pd.DataFrame(rows, columns=SLIPPAGE_COLUMNS)


def detect_slippage(
    receipts: pd.DataFrame,
    *,
    skus: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
    suppliers: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
    jit_policies: Sequence[str] = ("JIT",),
    **thresholds: Any,
) -> list[dict[str, Any]]:
    """Alerts for suppliers whose lead times degraded in the last quarter.

    Args:
        receipts: The canonical ``receipts`` table.
        skus: The ``skus`` table (``sku, supplier``), to find the SKUs a supplier serves; receipts
            with a ``sku`` column add to it.
        segments: Segments with a ``policy`` column (``sku, channel, policy``), to list the JIT
            SKU-channels at risk; without it every SKU of the supplier is listed.
        suppliers: The ``suppliers`` table, for the promised lead time.
        as_of: End of the recent window; defaults to the last receipt.
        jit_policies: Policies that run on a near-zero buffer.
        **thresholds: Passed to :func:`slippage_table` (``recent_days, min_extra_days, min_ratio,
            sd_ratio, alpha, min_receipts``).

    Returns:
        Alert dicts of type ``supplier_slippage`` (``critical`` when JIT series are at risk), with the
        figures and the at-risk ``sku, channel`` pairs in the payload; one per supplier and quarter.
    """
    table = slippage_table(receipts, as_of=as_of, suppliers=suppliers, **thresholds)
    bad = table[table["later"] | table["more_variable"]]
    if bad.empty:
        return []
    end = pd.Timestamp(as_of) if as_of is not None else pd.to_datetime(receipts["received_on"]).max()
    served = _skus_by_supplier(skus, receipts)
    alerts = []
    for row in bad.to_dict("records"):
        supplier = str(row["supplier"])
        supplier_skus = served.get(supplier, set())
        if segments is not None and "policy" in segments:
            at_risk = segments[segments["sku"].astype(str).isin(supplier_skus)
                               & segments["policy"].isin(list(jit_policies))]
        else:
            at_risk = pd.DataFrame({"sku": sorted(supplier_skus), "channel": None})
        pairs = [[str(s), None if c is None else str(c)] for s, c in zip(at_risk["sku"], at_risk["channel"],
                                                                          strict=True)]
        what = " and ".join(w for w, on in (("later", row["later"]), ("more variable", row["more_variable"]))
                            if on)
        message = (f"Supplier {supplier} delivers {what}: {row['recent_mean_days']:.1f} days "
                   f"(sd {row['recent_sd_days']:.1f}) over the last quarter vs "
                   f"{row['earlier_mean_days']:.1f} (sd {row['earlier_sd_days']:.1f}) before; {len(pairs)} "
                   f"{'JIT ' if segments is not None else ''}SKU-channels at risk")
        quarter = f"{end.year}-Q{end.quarter}"
        alerts.append(make_alert(
            "supplier_slippage", "critical" if segments is not None and pairs else "warning", None, None,
            {**{str(k): v for k, v in row.items()}, "as_of": f"{end:%Y-%m-%d}", "at_risk": pairs,
             "message": message},
            dedup_key=f"supplier_slippage|{supplier}|{quarter}",
        ))
    logger.info("Supplier slippage: %d of %d suppliers degraded.", len(alerts), len(table))
    return alerts


def _skus_by_supplier(skus: pd.DataFrame | None, receipts: pd.DataFrame) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    pairs = []
    if skus is not None and "supplier" in skus:
        pairs.append(skus[["sku", "supplier"]])
    if "sku" in receipts:
        pairs.append(receipts[["sku", "supplier"]])
    for frame in pairs:
        for sku, supplier in frame.dropna().astype(str).itertuples(index=False):
            out.setdefault(supplier, set()).add(sku)
    return out
