"""``blendcast orders``: purchase-order proposals per supplier from the served run's policies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from serving.cli.common import bad_input_exits, console, fail

if TYPE_CHECKING:  # pandas is imported inside the commands (the CLI starts without it)
    import pandas as pd

    from forecasting.inventory.purchase_orders import OrderProposal

OUT_SUFFIXES = (".csv", ".json")


def orders(
    supplier: Annotated[str | None, typer.Option(help="Only this supplier's order.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Order date (default: the served run's planning date).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write FILE.csv (one row per line) or FILE.json (orders with nested lines).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="Data folder whose inventory.csv (+ skus.csv) replace the stock the run saw.")] = None,
) -> None:
    """Propose purchase orders: one per supplier, one line per SKU (channels added up), rounded to MOQ/packs.

    Reads the served run from the result store (BLENDCAST_DATABASE_URL). A SKU-channel is on an order
    when its stock position (on hand + on order - backorders) is at or below the reorder point; the
    line brings the SKU's channels up to their order-up-to levels.
    """
    import pandas as pd

    from forecasting.infrastructure.settings import get_settings
    from forecasting.inventory.purchase_orders import (
        NoInventoryError,
        order_date,
        propose_orders,
        with_order_inputs,
    )
    from forecasting.persistence import ResultStore

    with bad_input_exits():
        if out is not None and out.suffix.lower() not in OUT_SUFFIXES:
            raise ValueError(f"--out must end in {' or '.join(OUT_SUFFIXES)}. Got '{out.name}'. "
                             "Fix: e.g. --out orders.csv")
        if out is not None and not out.parent.exists():
            raise FileNotFoundError(f"The folder of --out '{out.parent}' does not exist. Create it first.")
        store = ResultStore.from_settings(get_settings())
        run = store.latest_run()
        if run is None:
            raise fail("No run is published yet, so there are no policies to order from. "
                       "Fix: run `blendcast train --data DIR` first.")
        policies = store.get_policies(run.id)
        segments = store.get_segments(run.id)
        plan_date = segments["as_of"].max() if len(segments) else run.published_at
        date = order_date(as_of, pd.Timestamp(plan_date), field="--as-of",  # type: ignore[arg-type]
                          run="the served run")
        inventory = None
        if data is not None:
            from features.readers import load_dataset

            dataset = load_dataset(data)
            if dataset.inventory is None:
                raise ValueError(f"--data {data} has no inventory table. Fix: add inventory.csv "
                                 "(sku, channel, on_hand, on_order) to it.")
            policies = with_order_inputs(policies.drop(columns=["unit_cost"], errors="ignore"), dataset)
            inventory = dataset.inventory
        try:
            proposal = propose_orders(policies, date, inventory=inventory, supplier=supplier)
        except NoInventoryError as exc:
            raise fail(str(exc)) from None
    _print(proposal, run.id, date)
    if out is not None:
        _write(proposal, out)
        console.print(f"Wrote {len(proposal.lines)} lines to {out}")


def _print(proposal: OrderProposal, run_id: int, date: pd.Timestamp) -> None:
    from rich.table import Table
    if proposal.orders.empty:
        console.print(f"No purchase order is due on {date:%Y-%m-%d} (run {run_id}): every one of the "
                      f"{proposal.n_series} SKU-channels is above its reorder point.")
        return
    table = Table(title=f"Purchase orders due {date:%Y-%m-%d} (run {run_id})")
    for col in ("supplier", "lines", "units", "value", "expected arrival", "arrival if late (p90)"):
        table.add_column(col, justify="left" if col == "supplier" else "right")
    for o in proposal.orders.to_dict("records"):
        missing = int(o["lines_without_cost"])
        value = f"{float(o['total_value']):,.2f}" + (f" (+{missing} without cost)" if missing else "")
        table.add_row(str(o["supplier"]), str(o["n_lines"]), f"{float(o['total_units']):,.0f}", value,
                      str(o["expected_arrival"])[:10], str(o["latest_arrival"])[:10])
    console.print(table)
    console.print(f"{proposal.n_due} of {proposal.n_series} SKU-channels are at or below their reorder "
                  f"point; total value {proposal.orders['total_value'].sum():,.2f}.")


def _write(proposal: OrderProposal, out: Path) -> None:
    import json
    import tempfile

    from forecasting.inventory.purchase_orders import proposal_records
    with tempfile.NamedTemporaryFile("w", dir=out.parent, suffix=out.suffix, delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        if out.suffix.lower() == ".csv":
            flat = proposal.lines.assign(channels=proposal.lines["channels"].map(";".join),
                                         reasons=proposal.lines["reasons"].map(" | ".join))
            flat.to_csv(tmp_path, index=False, date_format="%Y-%m-%d")
        else:
            tmp_path.write_text(json.dumps(proposal_records(proposal), indent=2))
        tmp_path.replace(out)
    finally:
        tmp_path.unlink(missing_ok=True)


def register(app: typer.Typer) -> None:
    """Add the ``orders`` command."""
    app.command("orders")(orders)
