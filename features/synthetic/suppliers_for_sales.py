"""Simulated suppliers for any sales table: ``skus``, ``suppliers`` and ``receipts`` with known lead times.

Real sales data (M5, transaction logs) rarely comes with purchase orders. To try the simulator and the
policy engine on real demand, :func:`simulate_suppliers` adds the supply side with known lead-time
laws, one per supplier role:

=================  ===========  ======================  =====================================
role               promised     delivered (mean, sd)    share of SKUs
=================  ===========  ======================  =====================================
domestic_fast      3 days       3.4, 0.5: reliable      40%
domestic_late      4 days       9.0, 2.0: quotes 4,      20%
                                delivers in about 9
import             30 days      34.0, 4.0               25%
import_unreliable  21 days      27.0, 8.0               15%
=================  ===========  ======================  =====================================

Each SKU gets ``unit_price`` from the median of its recorded ``price`` (a drawn price when the sales
carry none), ``unit_cost`` a drawn 45-75% of it, and a pack size and MOQ that grow with its volume.
Receipts are purchase orders spread over the whole history (every ~5 days per domestic supplier, ~14
per import), delivered after a draw from the supplier's law (rounded, at least one day). The laws are
returned as truth so a benchmark can check what the lead-time audit measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic.supply import make_receipts

#: (role, origin, promised days, true mean, true sd, share of SKUs)
SUPPLIER_LAWS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("domestic_fast", "domestic", 3.0, 3.4, 0.5, 0.40),
    ("domestic_late", "domestic", 4.0, 9.0, 2.0, 0.20),
    ("import", "import", 30.0, 34.0, 4.0, 0.25),
    ("import_unreliable", "import", 21.0, 27.0, 8.0, 0.15),
)


@dataclass
class SimulatedSupply:
    """The supply tables added to a sales table and the laws behind them.

    Attributes:
        skus: ``sku, unit_cost, unit_price, supplier, moq, pack_size``.
        suppliers: ``supplier, promised_lead_time_days, origin``.
        receipts: ``supplier, ordered_on, received_on, sku, promised_on, qty``.
        truth: One row per supplier: ``supplier, role, origin, promised_lead_time_days,
            lead_time_mean, lead_time_sd``.
    """

    skus: pd.DataFrame
    suppliers: pd.DataFrame
    receipts: pd.DataFrame
    truth: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The three canonical tables by name."""
        return {"skus": self.skus, "suppliers": self.suppliers, "receipts": self.receipts}


def _check_sales(sales: pd.DataFrame) -> None:
    missing = [c for c in ("date", "sku", "units") if c not in sales]
    if missing:
        raise ValueError(f"Table 'sales' lacks column(s) {missing}; simulated suppliers need date, sku and "
                         "units. Give the canonical sales table.")
    if sales.empty:
        raise ValueError("Table 'sales' is empty; simulated suppliers need some sales. "
                         "Give a non-empty table.")


def simulate_suppliers(sales: pd.DataFrame, seed: int = 0, suppliers_per_role: int = 1) -> SimulatedSupply:
    """Add ``skus``, ``suppliers`` and ``receipts`` with known lead-time laws to a sales table.

    Args:
        sales: Canonical ``sales`` (``date, sku, units``; ``price`` used when present).
        seed: Seed of every draw (same seed and sales, same tables).
        suppliers_per_role: Suppliers of each role in :data:`SUPPLIER_LAWS` (named SUP001, ...).

    Returns:
        The tables and the true laws.

    Raises:
        ValueError: If ``sales`` lacks a required column or is empty, or ``suppliers_per_role`` < 1.
    """
    _check_sales(sales)
    if suppliers_per_role < 1:
        raise ValueError(f"The 'suppliers_per_role' must be >= 1. Got {suppliers_per_role}.")
    rng = np.random.default_rng(seed)
    rows = []
    for role, origin, promised, mean, sd, share in SUPPLIER_LAWS:
        for _ in range(suppliers_per_role):
            rows.append({"role": role, "origin": origin, "promised_lead_time_days": promised,
                         "lead_time_mean": mean, "lead_time_sd": sd, "share": share / suppliers_per_role})
    truth = pd.DataFrame(rows)
    truth.insert(0, "supplier", [f"SUP{i:03d}" for i in range(1, len(truth) + 1)])

    dates = pd.DatetimeIndex(pd.to_datetime(sales["date"]))
    span = pd.date_range(dates.min(), dates.max(), freq="D")
    per_sku = sales.groupby(sales["sku"].astype(str), sort=True)
    daily = (per_sku["units"].sum() / len(span)).astype(float)
    skus = daily.index.to_numpy(dtype=object)
    n = len(skus)
    if "price" in sales and sales["price"].notna().any():
        price = per_sku["price"].median().reindex(daily.index).to_numpy(dtype=float)
    else:
        price = np.full(n, np.nan)
    drawn = np.round(np.exp(rng.normal(np.log(8.0), 0.7, n)), 2)
    price = np.where(np.isfinite(price) & (price > 0), price, drawn)
    cost = np.round(price * rng.uniform(0.45, 0.75, n), 2)
    # Suppliers by share, the SKUs in random order so roles mix across categories and volumes.
    counts = np.floor(truth["share"].to_numpy() * n).astype(int)
    counts[: n - counts.sum()] += 1
    sup_idx = np.empty(n, dtype=np.int64)
    sup_idx[rng.permutation(n)] = np.repeat(np.arange(len(truth)), counts)
    volume = daily.to_numpy()
    # Pack sizes follow what one channel (store) sells a day: each channel orders on its own.
    channels = per_sku["channel"].nunique().reindex(daily.index).to_numpy() if "channel" in sales else 1
    per_channel = volume / np.maximum(channels, 1)
    pack = np.select([per_channel >= 10.0, per_channel >= 3.0], [12.0, 6.0], 1.0)
    moq = pack * np.where(truth["origin"].to_numpy()[sup_idx] == "import", 2.0, 1.0)
    sku_table = pd.DataFrame({
        "sku": skus, "unit_cost": cost, "unit_price": np.round(price, 2),
        "supplier": truth["supplier"].to_numpy()[sup_idx], "moq": moq, "pack_size": pack,
    })
    suppliers = truth[["supplier", "promised_lead_time_days", "origin"]].copy()
    receipts, _ = make_receipts(
        rng, truth.assign(has_receipts=True, slippage_days=0.0), sku_table, volume, span)
    return SimulatedSupply(sku_table, suppliers, receipts.reset_index(drop=True),
                           truth.drop(columns="share"))


__all__ = ["SUPPLIER_LAWS", "SimulatedSupply", "simulate_suppliers"]
