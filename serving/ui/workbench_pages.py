"""The planner's pages: purchase orders due (and the other workbench views as they land)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse

from forecasting.inventory.purchase_orders import NoInventoryError, OrderProposal, propose_orders
from serving.ui.routes import StoreDep, _no_run, _page, ui_router


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
