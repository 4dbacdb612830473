"""``blendcast summary``: what is served now, the policy mix, a few policies, the top alerts, and where
to look next (API, MLflow UI)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from serving.cli.common import console, fail

if TYPE_CHECKING:
    import pandas as pd

    from serving.workbench.today import Today

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def register(app: typer.Typer) -> None:
    """Add the ``summary`` command to ``app``."""
    app.command("summary")(summary)


def summary(
    policies: Annotated[int, typer.Option(help="How many policies to show.")] = 8,
    alerts: Annotated[int, typer.Option(help="How many alerts to show.")] = 8,
) -> None:
    """What to do today (orders due, open exceptions), policy mix, model, drift, sample policies, top alerts,
    and the exact commands for the next step."""
    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import ResultStore

    settings = get_settings()
    store = ResultStore.from_settings(settings)
    run = store.latest_run()
    if run is None:
        raise fail("Nothing is published yet. Run 'blendcast train --data DIR' first.", code=1)
    published = f"{run.published_at:%Y-%m-%d %H:%M}" if run.published_at else "?"
    console.rule(f"Served run {run.id}: model v{run.model_version}, published {published}")
    pol = store.get_policies(run.id)
    from serving.workbench.today import today

    view = today(store, run, pol)
    for line in today_lines(view):
        console.print(escape(line), highlight=False, soft_wrap=True)
    _policy_mix(pol)
    _sample_policies(pol, policies)
    _top_alerts(store.list_alerts(limit=500), alerts)
    console.print()
    console.print("[bold]Next steps[/] (copy and paste)")
    for what, command in next_commands(settings.home, run.params.get("data_dir"), view,
                                       settings.resolved_mlflow_uri):
        console.print(escape(f"  {what}:\n    {command}"), highlight=False, soft_wrap=True)


def today_lines(view: Today) -> list[str]:
    """The overview in plain words: orders due, exceptions, policy mix, model, drift."""
    from serving.workbench.today import EXCEPTION_TITLES

    lines = [f"Today ({view.order_date:%Y-%m-%d}):"]
    if view.orders is None:
        lines.append(f"  Orders: none can be proposed. {view.no_inventory}")
    elif view.orders.orders.empty:
        lines.append("  Orders: nothing is due; every SKU-channel is above its reorder point.")
    else:
        n, value = len(view.orders.orders), float(view.orders.orders["total_value"].sum())
        lines.append(f"  Orders: {n} purchase order{'s' if n != 1 else ''} due today, total value "
                     f"{value:,.2f} ({view.orders.n_due} of {view.orders.n_series} SKU-channels at or below "
                     "their reorder point):")
        for o in view.per_supplier:
            lines.append(f"    {o['supplier']}: {o['n_lines']} line(s), {float(o['total_units']):,.0f} "
                         f"units, {float(o['total_value']):,.2f}, arriving about "
                         f"{o['expected_arrival']:%Y-%m-%d}")
    open_ = {k: n for k, n in view.exceptions.items() if n}
    said = "; ".join(f"{n} SKU-channel(s) {EXCEPTION_TITLES[k]}" for k, n in open_.items())
    lines.append(f"  Exceptions: {said or 'none open.'}")
    mix = ", ".join(f"{n} {p.replace('_', ' ').lower()}" for p, n in view.policy_mix.items())
    lines.append(f"  Policy mix: {mix} SKU-channels.")
    if "wspl" in view.backtest:
        cov = view.backtest.get("coverage_95")
        held = f", 95% intervals held the actual sales {100 * cov:.1f}% of the time." if cov else "."
        lines.append(f"  Model v{view.run.model_version}: last backtest WSPL {view.backtest['wspl']:.3f} "
                     f"(lower is better; below 1 beats a naive forecast){held}")
    if view.drift:
        why = "; ".join(view.drift["reasons"][:2]) or "no reason given"
        lines.append(f"  Drift: {view.drift['verdict']} ({why}).")
    else:
        lines.append("  Drift: no report yet.")
    return lines


def next_commands(home: Path, data_dir: str | None, view: Today, mlflow_uri: str) -> list[tuple[str, str]]:
    """The exact commands for the next step, with BLENDCAST_HOME and the venv's executable spelled out."""
    venv_bin = Path(sys.executable).parent
    exe = venv_bin / "blendcast"
    prefix = f"BLENDCAST_HOME={shlex.quote(str(home.expanduser().resolve()))} {shlex.quote(str(exe))}"
    data = shlex.quote(data_dir) if data_dir else "DIR"
    out = []
    if view.orders is not None and not view.orders.orders.empty:
        out.append(("Export today's purchase orders", f"{prefix} orders --out orders.csv"))
    elif view.orders is None:
        out.append(("Load stock positions (inventory.csv in the data folder), then re-plan",
                    f"{prefix} train --data {data}"))
    out.append(("See the exceptions with the suggested actions", f"{prefix} exceptions --data {data}"))
    out.append(("Realized KPIs per policy", f"{prefix} kpis --data {data}"))
    out.append(("Serve the API and the planner's pages (http://127.0.0.1:8000/ui)",
                f"{prefix} api-key create --scope read && {prefix} serve --port 8000 --data {data}"))
    mlflow = shlex.quote(str(venv_bin / "mlflow"))
    out.append(("MLflow UI", f"{mlflow} ui --backend-store-uri {mlflow_uri} --port 5000"))
    return out


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
