"""``blendcast exceptions``: the planner's exceptions of the served run, on demand, stored as alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.cli.common import bad_input_exits, console, fail

KIND_TITLES = {
    "stockout_risk": "May run out before the next possible receipt",
    "excess_stock": "Excess stock",
    "excess_on_order": "Too much on order",
    "policy_health": "Policy not working in practice",
}


def exceptions(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Data folder: its inventory.csv replaces the stock the run saw, its sales give the "
                       "realized stockouts and turnover, its promotions the campaigns ahead.")] = None,
    kind: Annotated[str | None, typer.Option(help=f"Only this kind: {', '.join(KIND_TITLES)}.")] = None,
    store_alerts: Annotated[bool, typer.Option(
        "--store/--no-store", help="Store them as alerts (once per run and date) and deliver them.")] = True,
    limit: Annotated[int, typer.Option(help="Rows shown per kind.")] = 20,
) -> None:
    """Check the served run's policies against stock and operations: run-out risk before the next receipt,
    excess stock (BLENDCAST_EXCESS_COVER_DAYS, default 90 days of cover), too much on order, and policy
    health (JIT stockouts above BLENDCAST_JIT_MAX_STOCKOUTS per quarter, safety-stock stockouts, safety-stock
    turnover below BLENDCAST_SS_TURNOVER_FLOOR). The weekly job runs the same check with its sample paths.
    """
    import pandas as pd

    from forecasting.infrastructure.settings import get_settings
    from forecasting.inventory.exceptions import ExceptionThresholds, detect_exceptions
    from forecasting.inventory.purchase_orders import stock_positions
    from forecasting.persistence import ResultStore
    from forecasting.signals.alerts import emit_alerts
    from forecasting.signals.exception_alerts import exception_alerts

    with bad_input_exits():
        if kind is not None and kind not in KIND_TITLES:
            raise ValueError(f"--kind must be one of {', '.join(KIND_TITLES)}. Got {kind!r}.")
        if limit < 1:
            raise ValueError(f"--limit must be a positive number of rows. Got {limit}.")
        settings = get_settings()
        store = ResultStore.from_settings(settings)
        run = store.latest_run()
        if run is None:
            raise fail("No run is published yet. Fix: run `blendcast train --data DIR` first.")
        policies = store.get_policies(run.id)
        segments = store.get_segments(run.id)
        as_of = pd.Timestamp(segments["as_of"].max()) if len(segments) else pd.Timestamp.now().normalize()
        sales = promotions = None
        if data is not None:
            from features.readers import load_dataset

            dataset = load_dataset(data)
            sales, promotions = dataset.sales, dataset.promotions
            if dataset.inventory is not None:
                stock = stock_positions(policies, dataset.inventory)
                policies = policies.assign(**{c: stock[c].to_numpy() for c in stock.columns})
        limits = ExceptionThresholds.from_settings(settings)
        found = detect_exceptions(policies, as_of, thresholds=limits, sales=sales, promotions=promotions)
    if kind is not None:
        found = found[found["kind"] == kind]
    _print(found, run.id, limit)
    if store_alerts and not found.empty:
        ids = emit_alerts(store, exception_alerts(found, run.id, as_of), settings)
        console.print(f"{len(ids)} new alert(s) stored (the rest were stored before for run {run.id}).")


def _print(found: object, run_id: int, limit: int) -> None:
    import pandas as pd
    from rich.table import Table

    assert isinstance(found, pd.DataFrame)
    if found.empty:
        console.print(f"No exception in run {run_id}: stock, orders and policies look healthy.")
        return
    counts = found["kind"].value_counts()
    console.print(f"Run {run_id}: " + ", ".join(f"{counts.get(k, 0)} {KIND_TITLES[k].lower()}"
                                                  for k in KIND_TITLES if counts.get(k, 0)))
    for name, title in KIND_TITLES.items():
        rows = found[found["kind"] == name]
        if rows.empty:
            continue
        table = Table(title=f"{title} ({len(rows)})", show_lines=False)
        for col in ("SKU-channel", "severity", "what", "do"):
            table.add_column(col, overflow="fold")
        for r in rows.head(limit).to_dict("records"):
            table.add_row(f"{r['sku']}/{r['channel']}", str(r["severity"]), str(r["message"]),
                          str(r["action"]))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``exceptions`` command."""
    app.command("exceptions")(exceptions)
