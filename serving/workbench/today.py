"""What a planner should do today, from the served run: orders due, open exceptions, policy mix, the
model and its last backtest, the drift verdict. Shared by the overview page and ``blendcast summary``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from forecasting.inventory.purchase_orders import NoInventoryError, OrderProposal, propose_orders
from forecasting.persistence import ResultStore, RunInfo

EXCEPTION_TITLES = {
    "stockout_risk": "may run out before the next possible receipt",
    "excess_stock": "hold excess stock",
    "excess_on_order": "have too much on order",
    "policy_health": "run a policy that is not working in practice",
}

PAYLOAD_FIELDS = ("figure", "threshold", "message", "action", "policy")


@dataclass
class Today:
    """The overview's figures.

    Attributes:
        run: The served run.
        order_date: The planning date orders are due on.
        orders: Orders due (None when the run saw no inventory table).
        no_inventory: Why no order can be proposed (empty when orders are known).
        exceptions: Open exceptions of the run per kind.
        policy_mix: SKU-channels per policy.
        backtest: ``wspl`` and ``coverage_95`` of the run's backtest (when published).
        drift: Verdict and reasons of the newest drift report (None without one).
    """

    run: RunInfo
    order_date: pd.Timestamp
    orders: OrderProposal | None
    no_inventory: str = ""
    exceptions: dict[str, int] = field(default_factory=dict)
    policy_mix: dict[str, int] = field(default_factory=dict)
    backtest: dict[str, float] = field(default_factory=dict)
    drift: dict[str, Any] | None = None

    @property
    def per_supplier(self) -> list[dict[str, Any]]:
        """``supplier, n_lines, total_units, total_value, expected_arrival`` of each order due."""
        if self.orders is None:
            return []
        return [{str(k): v for k, v in r.items()} for r in self.orders.orders.to_dict("records")]


def open_exceptions(store: ResultStore, run_id: int) -> list[dict[str, Any]]:
    """The exception alerts stored for ``run_id`` (by the weekly job or ``blendcast exceptions``)."""
    rows = []
    for kind in EXCEPTION_TITLES:
        frame = store.list_alerts(type=kind, limit=100_000)
        for rec in frame.to_dict("records"):
            payload = rec["payload"] if isinstance(rec["payload"], dict) else {}
            if payload.get("run_id") == run_id:
                row: dict[str, Any] = {str(k): v for k, v in rec.items()}
                row.update({k: payload.get(k) for k in PAYLOAD_FIELDS})
                rows.append(row)
    return rows


def today(store: ResultStore, run: RunInfo, policies: pd.DataFrame | None = None) -> Today:
    """The overview of ``run`` (``policies``: its policy table, read from the store when None)."""
    pol = store.get_policies(run.id) if policies is None else policies
    segments = store.get_segments(run.id)
    date = (pd.Timestamp(segments["as_of"].max()).normalize() if len(segments)
            else pd.Timestamp(run.published_at or pd.Timestamp.now()).normalize())
    orders, why = None, ""
    try:
        orders = propose_orders(pol, date)
    except NoInventoryError as exc:
        why = str(exc)
    kinds = pd.Series([r["type"] for r in open_exceptions(store, run.id)], dtype=object).value_counts()
    metrics = run.metrics or {}
    backtest = {k: float(metrics[f"backtest_{k}"]) for k in ("wspl", "coverage_95")
                if isinstance(metrics.get(f"backtest_{k}"), int | float)}
    report = store.get_drift_report()
    drift = None if report is None else {"id": report.id, "run_id": report.run_id,
                                         "verdict": report.summary.get("verdict", "?"),
                                         "reasons": report.summary.get("reasons", [])}
    mix = pol["policy"].astype(str).value_counts().to_dict() if "policy" in pol else {}
    return Today(run=run, order_date=date, orders=orders, no_inventory=why,
                 exceptions={k: int(kinds.get(k, 0)) for k in EXCEPTION_TITLES},
                 policy_mix={str(k): int(v) for k, v in mix.items()}, backtest=backtest, drift=drift)
