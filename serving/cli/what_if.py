"""``blendcast what-if``: a planned campaign's stock needed, order, order-by date and stop-pushing level."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.cli.common import bad_input_exits, console, fail


def what_if(
    start: Annotated[str | None, typer.Option(help="First campaign day, after the planning date.")] = None,
    end: Annotated[str | None, typer.Option(help="Last campaign day, within the forecast horizon.")] = None,
    uplift: Annotated[float | None, typer.Option(help="Base-case uplift, a fraction: 1.0 = +100 %.")] = None,
    sku: Annotated[list[str] | None, typer.Option("--sku", help="SKU in the campaign (repeat it).")] = None,
    category: Annotated[str | None, typer.Option(help="Every SKU of this category.")] = None,
    channel: Annotated[list[str] | None, typer.Option("--channel", help="Channel (repeat).")] = None,
    best_uplift: Annotated[float | None, typer.Option(help="Best-case uplift (default: base).")] = None,
    n_paths: Annotated[int, typer.Option(help="Sample paths per series.")] = 2000,
    out: Annotated[Path | None, typer.Option(help="Write the whole answer to FILE.json.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Data folder whose promotions table "
                                                            "--promotion reads.")] = None,
    promotion: Annotated[int | None, typer.Option(help="Plan row N (0-based) of the promotions table instead "
                                                       "of --sku/--start/--end/--uplift.")] = None,
) -> None:
    """What a campaign needs: demand with the uplift over the window (base and best case), the stock needed
    through its end at the class's service level, the order quantity (MOQ, packs) and order-by date from
    the measured lead time, and the stop-pushing level. Reads the served run; stores nothing.
    """
    import json

    import pandas as pd
    from rich.table import Table

    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import ResultStore
    from serving.workbench.scenarios import run_scenario

    with bad_input_exits():
        if out is not None and out.suffix.lower() != ".json":
            raise ValueError(f"--out must end in .json. Got '{out.name}'. Fix: e.g. --out campaign.json")
        if not 200 <= n_paths <= 20000:
            raise ValueError(f"--n-paths must be in 200..20000. Got {n_paths}.")
        if promotion is not None:
            sku, channel, start, end, uplift = _promotion_row(data, promotion)
        given = (("--start", start), ("--end", end), ("--uplift", uplift))
        missing = [name for name, v in given if v is None]
        if missing:
            raise ValueError(f"Missing {', '.join(missing)}. Fix: give them, or --data DIR --promotion N to "
                             "plan a row of the promotions table.")
        assert start is not None and end is not None and uplift is not None
        settings = get_settings()
        store = ResultStore.from_settings(settings)
        run = store.latest_run()
        if run is None:
            raise fail("No run is published yet. Fix: run `blendcast train --data DIR` first.")
        segments = store.get_segments(run.id)
        plan = pd.Timestamp(segments["as_of"].max()).normalize()
        answer = run_scenario(store, run, store.get_policies(run.id), plan, skus=sku, category=category,
                              channels=channel, start=start, end=end, uplift_base=uplift,
                              uplift_best=best_uplift, n_paths=n_paths, seed=settings.seed)
    table = Table(title=f"Campaign {start}..{end} (run {run.id}, planned {plan:%Y-%m-%d})")
    for col in ("SKU-channel", "case", "window demand", "without", "p10-p90", "stock needed",
                "stop pushing below"):
        table.add_column(col, justify="left" if col in ("SKU-channel", "case") else "right")
    for r in answer["series"]:
        table.add_row(f"{r['sku']}/{r['channel']}", f"{r['case']} (+{100 * r['uplift']:.0f}%)",
                      f"{r['window_demand']:,.0f}", f"{r['window_demand_without']:,.0f}",
                      f"{r['window_p10']:,.0f}-{r['window_p90']:,.0f}", f"{r['stock_needed']:,.0f}",
                      f"{r['stop_pushing_level']:,.0f}")
    console.print(table)
    for o in answer["orders"]:
        if o["order_qty"] <= 0:
            console.print(f"{o['sku']} ({o['case']} case): the stock position {o['position']:,.0f} covers "
                          "it; no order needed.")
            continue
        when = "today (late: it arrives after the start)" if o["late"] else f"by {o['order_by']}"
        console.print(f"{o['sku']} ({o['case']} case): order {o['order_qty']:,.0f} units {when}; expected "
                      f"arrival {o['expected_arrival']}.")
    if out is not None:
        out.write_text(json.dumps(answer, indent=2))
        console.print(f"Wrote {out}")


def _promotion_row(data: Path | None, index: int) -> tuple[list[str], list[str], str, str, float]:
    """``sku, channel, start, end, uplift`` of promotions row ``index`` (expected_uplift is a multiplier)."""
    from features.readers import load_dataset

    if data is None:
        raise ValueError("--promotion needs --data DIR (the folder holding promotions.csv).")
    promotions = load_dataset(data).promotions
    if promotions is None or promotions.empty:
        raise ValueError(f"--data {data} has no promotions table. Fix: add promotions.csv or give --sku, "
                         "--start, --end and --uplift.")
    if not 0 <= index < len(promotions):
        raise ValueError(f"--promotion must be a row number in 0..{len(promotions) - 1}. Got {index}.")
    row = promotions.iloc[index]
    if "expected_uplift" not in promotions or row.isna().get("expected_uplift", True):
        raise ValueError(f"Promotions row {index} has no expected_uplift. Fix: fill it, or give --uplift.")
    return ([str(row["sku"])], [str(row["channel"])], str(row["start"].date()), str(row["end"].date()),
            float(row["expected_uplift"]) - 1.0)


def register(app: typer.Typer) -> None:
    """Add the ``what-if`` command."""
    app.command("what-if")(what_if)
