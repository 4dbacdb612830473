"""``blendcast summary``: what is served now, the policy mix, a few policies, the top alerts, and where
to look next (API, MLflow UI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from serving.cli.common import console, fail

if TYPE_CHECKING:
    import pandas as pd

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def register(app: typer.Typer) -> None:
    """Add the ``summary`` command to ``app``."""
    app.command("summary")(summary)


def summary(
    policies: Annotated[int, typer.Option(help="How many policies to show.")] = 8,
    alerts: Annotated[int, typer.Option(help="How many alerts to show.")] = 8,
) -> None:
    """Summarise the served run: model, policy mix, sample policies, top alerts, next steps."""
    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import ResultStore

    settings = get_settings()
    store = ResultStore.from_settings(settings)
    run = store.latest_run()
    if run is None:
        raise fail("Nothing is published yet. Run 'blendcast train --data DIR' first.", code=1)
    published = f"{run.published_at:%Y-%m-%d %H:%M}" if run.published_at else "?"
    console.rule(f"Served run {run.id}: model v{run.model_version}, published {published}")
    wspl = (run.metrics or {}).get("backtest_wspl")
    cov = (run.metrics or {}).get("backtest_coverage_95")
    if wspl is not None:
        console.print(f"Backtest WSPL {wspl:.4f}, 95% interval coverage {cov or float('nan'):.3f}, "
                      f"horizon {run.horizon} days.")
    pol = store.get_policies(run.id)
    _policy_mix(pol)
    _sample_policies(pol, policies)
    _top_alerts(store.list_alerts(limit=500), alerts)
    console.print()
    console.print("[bold]Next[/]")
    console.print("  API:        blendcast api-key create --scope read   then   blendcast serve --port 8000"
                  "   (docs at http://127.0.0.1:8000/docs, pages at /ui)")
    console.print(f"  MLflow UI:  mlflow ui --backend-store-uri {settings.resolved_mlflow_uri} --port 5000")
    console.print("  Models:     blendcast models     Alerts: blendcast alerts")


def _policy_mix(pol: pd.DataFrame) -> None:
    if pol.empty:
        return
    mix = pol.pivot_table(index="abc", columns="policy", values="sku", aggfunc="count", fill_value=0)
    table = Table("ABC", *[str(c) for c in mix.columns], title="Policy mix (SKU-channels)")
    for abc, row in mix.iterrows():
        table.add_row(str(abc), *[str(int(v)) for v in row])
    console.print(table)


def _sample_policies(pol: pd.DataFrame, n: int) -> None:
    if pol.empty or n <= 0:
        return
    # One or two of each policy, the largest reorder points first: the ones a planner checks.
    picks = (pol.sort_values("reorder_point", ascending=False).groupby("policy").head(max(1, n // 3))
             .head(n))
    table = Table("sku", "channel", "ABC/XYZ", "policy", "SS", "ROP", "S", "order", title="Sample policies")
    whys = []
    for _, r in picks.iterrows():
        table.add_row(str(r["sku"]), str(r["channel"]), f"{r.get('abc', '')}/{r.get('xyz', '')}",
                      str(r["policy"]), f"{r['safety_stock']:.0f}", f"{r['reorder_point']:.0f}",
                      f"{r['order_up_to']:.0f}", f"{r.get('order_qty', 0):.0f}")
        reasons = r.get("reasons")
        why = "; ".join(reasons) if isinstance(reasons, list) else str(reasons or "")
        whys.append(f"  {r['sku']}/{r['channel']}: {why}")
    console.print(table)
    console.print("SS = safety stock, ROP = reorder point, S = order-up-to level. Why:")
    for line in whys:
        console.print(line, highlight=False, overflow="fold")


def _top_alerts(frame: pd.DataFrame, n: int) -> None:
    if frame.empty or n <= 0:
        console.print("No alerts.")
        return
    frame = frame.assign(_rank=frame["severity"].map(SEVERITY_ORDER).fillna(3))
    frame = frame.sort_values(["_rank", "created_at"], ascending=[True, False]).head(n)
    console.print("[bold]Top alerts[/]")
    for _, r in frame.iterrows():
        raw = r.get("payload")
        payload: dict[str, object] = raw if isinstance(raw, dict) else {}
        what = str(payload.get("message") or "")
        what = what or f"{r.get('sku') or '-'}/{r.get('channel') or '-'}"
        console.print(escape(f"  [{r['severity']}] {r['type']}: {what}"), highlight=False, overflow="fold")
