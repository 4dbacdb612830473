"""The simulated supply side: suppliers with true lead-time behaviour, receipts and stock positions."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Roles of the first suppliers, so every behaviour exists even in a tiny catalogue; the rest are
# drawn. kind: domestic / import / unreliable (promises 4 days, delivers in about 9).
_FIXED_ROLES: tuple[tuple[str, bool, bool], ...] = (
    # (kind, degrades in the last quarter, has receipts)
    ("domestic", False, True),
    ("import", False, True),
    ("unreliable", False, True),
    ("domestic", False, False),
    ("import", True, True),
    ("domestic", True, True),
)
SLIPPAGE_FROM = 0.75  # share of the history after which degrading suppliers deliver later


def slippage_day(n_days: int) -> int:
    """Index of the first day whose orders degrading suppliers deliver late."""
    return min(int(np.ceil(SLIPPAGE_FROM * n_days)), n_days - 1)


def make_suppliers(rng: np.random.Generator, n_skus: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``suppliers`` table and its truth (kind, true lead-time mean and sd, slippage).

    Returns:
        ``(suppliers, truth)``; truth has ``supplier, kind, origin, promised_lead_time_days,
        lead_time_mean, lead_time_sd, slippage_days, has_receipts``.
    """
    n = int(np.clip(round(n_skus / 40), len(_FIXED_ROLES), 80))
    roles = list(_FIXED_ROLES)
    for k in range(len(roles), n):
        kind = "unreliable" if k == 20 else ("domestic" if rng.random() < 0.6 else "import")
        roles.append((kind, bool(rng.random() < 0.15), True))
    kinds = np.array([r[0] for r in roles], dtype=object)
    degrading = np.array([r[1] for r in roles])
    has_receipts = np.array([r[2] for r in roles])
    imported = kinds == "import"
    unreliable = kinds == "unreliable"
    promised = np.where(imported, rng.integers(25, 41, n), np.where(unreliable, 4, rng.integers(3, 6, n)))
    # Imports arrive late on average and vary a lot; domestic suppliers are a fraction of a day late.
    mean = np.where(
        imported, promised + rng.uniform(3.0, 9.0, n),
        np.where(unreliable, rng.uniform(8.5, 9.5, n), promised + rng.uniform(0.3, 0.8, n)),
    )
    sd = np.where(imported, rng.uniform(3.0, 6.0, n), np.where(unreliable, 2.0, rng.uniform(0.4, 0.8, n)))
    slip = np.where(imported, rng.uniform(8.0, 14.0, n), rng.uniform(3.0, 5.0, n))
    slippage = np.where(degrading, slip, 0.0)
    names = np.array([f"SUP{i:03d}" for i in range(1, n + 1)], dtype=object)
    origin = np.where(imported, "import", "domestic").astype(object)
    table = pd.DataFrame(
        {"supplier": names, "promised_lead_time_days": promised.astype(float), "origin": origin}
    )
    truth = table.assign(
        kind=kinds,
        lead_time_mean=np.round(mean, 3),
        lead_time_sd=np.round(sd, 3),
        slippage_days=np.round(slippage, 3),
        has_receipts=has_receipts,
    )
    return table, truth


def make_receipts(
    rng: np.random.Generator,
    supplier_truth: pd.DataFrame,
    skus: pd.DataFrame,
    sku_daily_units: np.ndarray,
    dates: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Purchase orders of every supplier over the history.

    Orders arrive after the supplier's true lead time (later for degrading suppliers in the last
    quarter); the ones not yet received by the last sales day are returned apart as open orders.

    Returns:
        ``(receipts, open_orders)`` with columns ``supplier, ordered_on, received_on, sku,
        promised_on, qty`` (``received_on`` of open orders is when they will arrive).
    """
    n_days = len(dates)
    parts = []
    sku_supplier = skus["supplier"].to_numpy()
    for row in supplier_truth.to_dict("records"):
        if not row["has_receipts"]:
            continue
        own = np.flatnonzero(sku_supplier == row["supplier"])
        every = 14.0 if row["origin"] == "import" else 5.0
        n_orders = int(np.ceil(n_days / every)) + 1
        ordered = np.floor(np.cumsum(rng.uniform(0.5, 1.5, n_orders) * every)).astype(np.int64) - 1
        ordered = ordered[(ordered >= 0) & (ordered < n_days)]
        lead = rng.normal(row["lead_time_mean"], row["lead_time_sd"], len(ordered))
        lead += np.where(ordered >= slippage_day(n_days), row["slippage_days"], 0.0)
        lead = np.maximum(np.round(lead), 1).astype(np.int64)
        if len(own):
            pick = own[rng.integers(0, len(own), len(ordered))]
            sku = skus["sku"].to_numpy()[pick]
            pack, moq = skus["pack_size"].to_numpy()[pick], skus["moq"].to_numpy()[pick]
            cover = sku_daily_units[pick] * every * len(own) * rng.uniform(0.8, 1.5, len(ordered))
            qty = np.maximum(np.ceil(cover / pack) * pack, moq)
        else:  # a supplier without SKUs in a tiny catalogue still shows its delivery behaviour
            sku = np.full(len(ordered), None, dtype=object)
            qty = np.full(len(ordered), 10.0)
        promised = ordered + int(row["promised_lead_time_days"])
        parts.append(
            pd.DataFrame(
                {
                    "supplier": row["supplier"],
                    "ordered_on": dates[0] + pd.to_timedelta(ordered, unit="D"),
                    "received_on": dates[0] + pd.to_timedelta(ordered + lead, unit="D"),
                    "sku": sku,
                    "promised_on": dates[0] + pd.to_timedelta(promised, unit="D"),
                    "qty": qty,
                }
            )
        )
    columns = ["supplier", "ordered_on", "received_on", "sku", "promised_on", "qty"]
    allrows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    allrows = allrows.sort_values(["supplier", "ordered_on", "sku"], kind="stable").reset_index(drop=True)
    received = allrows["received_on"] <= dates[-1]
    return allrows[received].reset_index(drop=True), allrows[~received].reset_index(drop=True)


def make_inventory(
    rng: np.random.Generator,
    sku: np.ndarray,
    channel: np.ndarray,
    last_mean: np.ndarray,
    last_in_stock: np.ndarray,
    open_orders: pd.DataFrame,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Stock positions of every SKU-channel on the last sales day.

    Open purchase orders of a SKU are split over its channels by their share of demand.
    """
    on_hand = np.where(last_in_stock, np.round(last_mean * rng.uniform(3.0, 45.0, len(sku))), 0.0)
    frame = pd.DataFrame({"sku": sku, "channel": channel, "weight": last_mean + 1e-9})
    open_qty = (open_orders.groupby("sku", observed=True)["qty"].sum() if len(open_orders)
                else pd.Series(dtype=float))
    share = frame["weight"] / frame.groupby("sku", observed=True)["weight"].transform("sum")
    on_order = np.round(frame["sku"].map(open_qty).fillna(0.0).to_numpy() * share.to_numpy())
    return pd.DataFrame(
        {"sku": sku, "channel": channel, "on_hand": on_hand, "on_order": on_order, "as_of": as_of}
    )
