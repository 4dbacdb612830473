"""The planner's pages: purchase orders due (and the other workbench views as they land)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse

from forecasting.inventory.purchase_orders import NoInventoryError, OrderProposal, propose_orders
from serving.dependencies import StoreDep
from serving.ui.routes import _no_run, _page, ui_router


def served_run(request: Request) -> Any:
    """The API's served run when the pages run inside the API app (None otherwise)."""
    state = getattr(request.app.state, "served", None)
    return getattr(state, "current", None)


def current_orders(request: Request, store: Any, as_of: str | None = None
                   ) -> tuple[OrderProposal, pd.Timestamp]:
    """Orders due on ``as_of`` (default: the planning date) of the served run, else of the store's latest.

    Raises:
        NoInventoryError: The run saw no inventory table.
        ValueError: A bad ``as_of``.
    """
    from serving.workbench.orders import check_order_date, proposal

    served = served_run(request)
    if served is not None:
        date = check_order_date(served, as_of)
        return proposal(served, date)[0], date
    segments = store.get_segments()
    date = pd.Timestamp(as_of or segments["as_of"].max()).normalize()
    return propose_orders(store.get_policies(), date), date


@ui_router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, store: StoreDep, supplier: str = "", as_of: str = "") -> HTMLResponse:
    """Purchase orders due: one block per supplier with its lines, values, arrival and reasons."""
    run = store.latest_run()
    if run is None:
        return _no_run(request)
    try:
        result, date = current_orders(request, store, as_of or None)
    except NoInventoryError as exc:
        return _page(request, "orders.html.j2", run=run, error=str(exc), orders=[], suppliers=[],
                     supplier=supplier, as_of=as_of, date=None, result=None)
    except ValueError as exc:
        return _page(request, "orders.html.j2", 422, run=run, error=str(exc), orders=[], suppliers=[],
                     supplier=supplier, as_of=as_of, date=None, result=None)
    suppliers = sorted(result.orders["supplier"].astype(str).unique())
    orders = []
    for order in result.orders.to_dict("records"):
        if supplier and order["supplier"] != supplier:
            continue
        lines = result.lines_of(str(order["supplier"])).to_dict("records")
        orders.append({**order, "lines": lines})
    return _page(request, "orders.html.j2", run=run, error=None, orders=orders, suppliers=suppliers,
                 supplier=supplier, as_of=as_of, date=date, result=result)


KIND_TITLES = {
    "stockout_risk": (
        "May run out before the next possible receipt",
        "Chance that demand until an order placed today could arrive (the measured lead time) exceeds the "
        "stock on hand plus on order."),
    "excess_stock": (
        "Excess stock",
        "Days of cover (stock on hand / mean daily demand) above the limit, with no demand spike or "
        "campaign ahead."),
    "excess_on_order": (
        "Too much on order",
        "Open orders that take the stock position above both the order-up-to level and the days-of-cover "
        "limit."),
    "policy_health": (
        "Policy not working in practice",
        "From the last quarter's operations: JIT items stocking out too often, safety-stock items stocking "
        "out at all, or safety stock turning too slowly."),
}


@ui_router.get("/exceptions", response_class=HTMLResponse)
def exceptions_page(request: Request, store: StoreDep, kind: str = "") -> HTMLResponse:
    """Open exceptions of the served run, by kind, each with its figure and the suggested action."""
    run = store.latest_run()
    if run is None:
        return _no_run(request)
    from serving.workbench.today import open_exceptions

    rows = open_exceptions(store, run.id)
    counts = {k: sum(r["type"] == k for r in rows) for k in KIND_TITLES}
    shown = [r for r in rows if not kind or r["type"] == kind]
    return _page(request, "exceptions.html.j2", run=run, rows=shown, counts=counts, kinds=KIND_TITLES,
                 kind=kind)


KPI_LABELS = {
    "stockout_rate": ("stockout days", "share of days a SKU-channel was out of stock (in_stock = 0)", "pct"),
    "stockout_events_per_sku": ("stockouts per SKU-channel", "runs of out-of-stock days in the quarter; JIT "
                                "should stay at or below about 1, safety stock near 0", "num"),
    "turnover": ("turns a year", "cost of goods sold (annualised) / average stock value", "num"),
    "days_of_inventory": ("days of inventory", "average stock value / daily cost of goods sold", "num"),
    "carrying_cost_pct": ("carrying cost % of revenue", "holding rate x average stock value over the quarter "
                          "/ revenue", "num"),
    "cash_cycle_days": ("cash-to-inventory days", "mean supplier lead time + days of inventory: from paying "
                        "for an order to selling it", "num"),
    "returns_rate": ("returns", "returned / sold units (where the sales table has returns)", "pct"),
}


@ui_router.get("/kpis", response_class=HTMLResponse)
def kpis_page(request: Request, store: StoreDep) -> HTMLResponse:
    """Realized KPIs per policy and ABC class for the last quarter, the trend, and the suppliers."""
    from serving.workbench.kpi_charts import kpi_trend_chart

    run = store.latest_run()
    if run is None:
        return _no_run(request)
    kpis = run.metrics.get("operating_kpis") if isinstance(run.metrics, dict) else None
    groups = (kpis or {}).get("groups") or []
    suppliers = (kpis or {}).get("suppliers") or []
    last = max((g["quarter_end"] for g in groups), default=None)
    last_sup = max((s["quarter_end"] for s in suppliers), default=None)
    return _page(request, "kpis.html.j2", run=run, last=last, labels=KPI_LABELS,
                 rows=[g for g in groups if g["quarter_end"] == last],
                 suppliers=[s for s in suppliers if s["quarter_end"] == last_sup],
                 chart=kpi_trend_chart(groups) if groups else None)


@ui_router.get("/what-if", response_class=HTMLResponse)
def what_if_page(request: Request, store: StoreDep, skus: str = "", category: str = "", channels: str = "",
                 start: str = "", end: str = "", uplift: str = "", best: str = "") -> HTMLResponse:
    """A campaign what-if form; with its fields filled, the answer below it (nothing is stored)."""
    from serving.workbench.scenarios import run_scenario

    run = store.latest_run()
    if run is None:
        return _no_run(request)
    form = {"skus": skus, "category": category, "channels": channels, "start": start, "end": end,
            "uplift": uplift, "best": best}
    answer, error, status = None, None, 200
    if start or end or uplift:
        try:
            base = _fraction("uplift", uplift)
            best_value = _fraction("best", best) if best else None
            served = served_run(request)
            if served is not None and served.run_id == run.id:
                from serving.workbench.orders import plan_date, policy_frame

                policies, planned = policy_frame(served), plan_date(served)
            else:
                policies = store.get_policies(run.id)
                planned = pd.Timestamp(store.get_segments(run.id)["as_of"].max()).normalize()
            answer = run_scenario(store, run, policies, planned, skus=_split(skus), category=category or None,
                                  channels=_split(channels), start=start, end=end, uplift_base=base,
                                  uplift_best=best_value, n_paths=2000)
        except ValueError as exc:
            error, status = str(exc), 422
    return _page(request, "what_if.html.j2", status, run=run, form=form, answer=answer, error=error)


def _split(text: str) -> list[str] | None:
    items = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
    return items or None


def _fraction(name: str, text: str) -> float:
    """A percentage field of the form (``200`` = +200 %) as a fraction."""
    try:
        return float(text) / 100.0
    except ValueError:
        raise ValueError(f"The field '{name}' must be a percentage such as 200 (for +200 %). "
                         f"Got {text!r}.") from None
