"""``blendcast kpis``: realized KPIs from operating data, per policy and ABC class, quarter by quarter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.cli.common import bad_input_exits, console

OUT_SUFFIXES = (".csv", ".json")


def kpis(
    data: Annotated[Path, typer.Option("--data", help="Data folder (sales with in_stock/returns, skus, "
                                                      "receipts, inventory).")],
    quarters: Annotated[int, typer.Option(help="Quarters (91 days) back from the last sales date.")] = 4,
    out: Annotated[Path | None, typer.Option(help="Write the group rows to FILE.csv or FILE.json.")] = None,
) -> None:
    """Stockout rate and events per SKU, turnover, days of inventory, carrying cost (% of revenue,
    BLENDCAST_HOLDING_RATE), cash-to-inventory cycle and returns per policy and ABC class, and
    supplier lead-time mean / variance / on-time rate: from what happened, not from the simulator.
    Policies and ABC classes come from the served run (series it did not plan count as 'unplanned').
    """
    import json

    import pandas as pd
    from rich.table import Table

    from features.readers import load_dataset
    from forecasting.infrastructure.settings import get_settings
    from forecasting.inventory.operating_kpis import kpi_records, operating_kpis
    from forecasting.persistence import ResultStore

    with bad_input_exits():
        if out is not None and out.suffix.lower() not in OUT_SUFFIXES:
            raise ValueError(f"--out must end in .csv or .json. Got '{out.name}'. Fix: e.g. --out kpis.csv")
        if not 1 <= quarters <= 20:
            raise ValueError(f"--quarters must be in 1..20. Got {quarters}.")
        settings = get_settings()
        dataset = load_dataset(data)
        store = ResultStore.from_settings(settings)
        run = store.latest_run()
        segments = pd.DataFrame(columns=["sku", "channel", "policy", "abc"])
        lead = None
        if run is not None:
            policies = store.get_policies(run.id)
            segments = policies[["sku", "channel", "policy", "abc"]]
            lead = policies[["sku", "lead_time_mean"]]
        result = operating_kpis(dataset, segments, quarters=quarters, holding_rate=settings.holding_rate,
                                lead_times=lead)
    groups = result.groups
    last = groups[groups["quarter_end"] == groups["quarter_end"].max()]
    table = Table(title=f"Realized KPIs, quarter ending {last['quarter_end'].max():%Y-%m-%d}")
    cols = {"policy": "policy", "abc": "ABC", "n_series": "series", "stockout_rate": "stockout days %",
            "stockout_events_per_sku": "stockouts / SKU", "turnover": "turns / year",
            "days_of_inventory": "days of inventory", "carrying_cost_pct": "carrying % revenue",
            "cash_cycle_days": "cash cycle days", "returns_rate": "returns %"}
    for label in cols.values():
        table.add_column(label, justify="left" if label in ("policy", "ABC") else "right")
    for rec in last.to_dict("records"):
        cells = []
        for col in cols:
            v = rec[col]
            if col in ("stockout_rate", "returns_rate") and pd.notna(v):
                v = 100 * v
            cells.append(str(v) if isinstance(v, str) else ("-" if pd.isna(v) else f"{float(v):,.2f}"))
        table.add_row(*cells)
    console.print(table)
    sup = result.suppliers
    if not sup.empty:
        latest = sup[sup["quarter_end"] == sup["quarter_end"].max()]
        st = Table(title="Suppliers, last quarter")
        for c in ("supplier", "receipts", "lead time mean", "lead time variance", "on time %"):
            st.add_column(c, justify="left" if c == "supplier" else "right")
        for r in latest.to_dict("records"):
            st.add_row(str(r["supplier"]), str(r["n_receipts"]), f"{r['lead_time_mean']:.1f}",
                       "-" if pd.isna(r["lead_time_var"]) else f"{r['lead_time_var']:.1f}",
                       "-" if pd.isna(r["on_time_rate"]) else f"{100 * r['on_time_rate']:.0f}")
        console.print(st)
    if out is not None:
        if out.suffix.lower() == ".csv":
            groups.to_csv(out, index=False, date_format="%Y-%m-%d")
        else:
            out.write_text(json.dumps(kpi_records(result), indent=2))
        console.print(f"Wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the ``kpis`` command."""
    app.command("kpis")(kpis)
