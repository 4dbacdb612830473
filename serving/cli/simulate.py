"""``blendcast simulate``: replay demand under ALL_JIT, ALL_SAFETY_STOCK, BLENDED and a classic sweep.

BLENDED plans from the engine's forecaster (by default what ``blendcast train`` serves), re-fitted at
every re-plan on the data up to that day in the re-fit profile of
:mod:`forecasting.inventory.replay_forecasters`. ``--classic-levels`` adds the classic formula at
each level (the frontier); every policy is compared with it at its own fill rate and by total cost.
Everything is validated before work starts; outputs go to a temporary directory moved into place, so
bad input (exit code 2) leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from serving.cli.common import bad_input_exits, console, err_console, setup_logging

COST_COLUMNS = ("holding_cost", "lost_margin", "total_cost")


def _levels(text: str) -> tuple[float, ...]:
    values = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(f"--classic-levels: {part!r} is not a number. Give levels in (0.5, 1) separated "
                             "by commas, e.g. 0.8,0.9,0.95,0.99.") from None
    return tuple(values)


def _prices_missing(dataset: object, skus: list[str]) -> list[str]:
    """SKUs of the data without a positive unit cost and unit price."""
    table = getattr(dataset, "skus", None)
    if table is None or not {"unit_cost", "unit_price"} <= set(table.columns):
        return skus
    known = table.set_index(table["sku"].astype(str))
    ok = known["unit_cost"].gt(0) & known["unit_price"].gt(0)
    return [s for s in skus if not bool(ok.get(s, False))]


def simulate_command(
    data: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    days: int = typer.Option(365, "--days", help="Days replayed (the last DAYS of the data)."),
    policies: str = typer.Option("ALL_JIT,ALL_SAFETY_STOCK,BLENDED", "--policies",
                                 help="Comma-separated, among ALL_JIT, ALL_SAFETY_STOCK, BLENDED, "
                                      "CLASSIC_BY_CLASS."),
    forecaster: str = typer.Option(None, "--forecaster",
                                   help="What BLENDED plans from, re-fitted at every re-plan: combination, "
                                        "lightgbm, ets, tsb, seasonal_naive or bootstrap (default: the model "
                                        "`blendcast train` serves)."),
    classic_levels: str = typer.Option("", "--classic-levels",
                                       help="Also run the classic formula at these service levels, e.g. "
                                            "0.8,0.85,0.9,0.93,0.95,0.97,0.98,0.99 (the frontier)."),
    holding_rate: float = typer.Option(0.25, "--holding-rate", help="Yearly holding cost / inventory value."),
    cost: bool = typer.Option(None, "--cost/--no-cost",
                              help="Report total cost (needs unit_cost and unit_price of every SKU; "
                                   "default: when they are there)."),
    out: Path = typer.Option(None, "--out", help="Directory for the KPIs, frontier and charts."),
    rules_file: Path = typer.Option(None, "--rules", help="TOML rules file of the BLENDED policy."),
    replan_days: int = typer.Option(28, "--replan-days", help="Days between re-plans."),
    n_paths: int = typer.Option(200, "--n-paths", help="Sample paths per plan."),
    review: str = typer.Option("periodic", "--review", help="periodic or continuous."),
    n_jobs: int = typer.Option(None, "--n-jobs", help="Forecaster threads (default BLENDCAST_N_JOBS)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Replay demand under ALL_JIT, ALL_SAFETY_STOCK and BLENDED (+ a classic sweep): KPIs, frontier, cost."""
    import os

    import numpy as np
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from forecasting.infrastructure.settings import get_settings
    from forecasting.inventory.frontier import (
        calibration_table,
        class_service,
        compare_to_frontier,
        frontier_table,
        service_table,
        write_frontier_chart,
    )
    from forecasting.inventory.replay_forecasters import REPLAY_FORECASTERS, replay_forecaster
    from forecasting.inventory.rules import load_rules
    from forecasting.inventory.simulation_kpis import kpi_table, write_chart, write_json
    from forecasting.inventory.simulator import SimulationConfig, simulate
    from serving.cli.common import load_data_as_of
    from training.options import TrainOptions

    setup_logging("WARNING")
    with bad_input_exits():
        name = forecaster or TrainOptions().model
        if name not in REPLAY_FORECASTERS:
            raise ValueError(f"--forecaster {name!r} is not known. Use one of: "
                             f"{', '.join(REPLAY_FORECASTERS)}.")
        rules = load_rules(rules_file)
        names = tuple(p.strip() for p in policies.split(",") if p.strip())
        try:
            config = SimulationConfig(days=days, policies=names, replan_days=replan_days, n_paths=n_paths,
                                      review=review,  # type: ignore[arg-type]
                                      seed=seed, classic_levels=_levels(classic_levels),
                                      holding_rate=holding_rate)
        except ValidationError as exc:
            first = exc.errors()[0]
            option = "--" + ".".join(str(p) for p in first["loc"][:1]).replace("_", "-")
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"{option}: {message}. Got {first.get('input')!r}.") from None
        if out is not None and out.exists() and any(out.iterdir()):
            raise ValueError(f"--out '{out}' exists and is not empty. Give a new or empty directory.")
        dataset, _ = load_data_as_of(data, None)
        missing = _prices_missing(dataset, sorted(dataset.sales["sku"].astype(str).unique()))
        if cost and missing:
            raise ValueError(f"--cost needs unit_cost and unit_price (> 0) of every SKU in table 'skus'; "
                             f"{len(missing)} SKUs lack them, e.g. {missing[:5]}. Add them to skus.csv "
                             "(`blendcast demo-suppliers` simulates a skus table) or pass --no-cost.")
        with_cost = not missing if cost is None else cost
        threads = n_jobs if n_jobs is not None else (get_settings().n_jobs or os.cpu_count() or 1)
        model = replay_forecaster(name, n_jobs=threads, random_state=seed)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=True) as bar:
            plans = bar.add_task(f"plans ({name})", total=None)
            task = bar.add_task("days", total=config.days)
            result = simulate(
                dataset, rules, config, forecaster=model,
                progress=lambda done, total: bar.update(task, completed=done),
                on_replan=lambda done, total, as_of: bar.update(
                    plans, completed=done, total=total,
                    description=f"plans ({name}, last as of {as_of.date()})"))
    kpis = result.kpis
    if not with_cost:
        kpis = kpis.assign(**{c: np.nan for c in COST_COLUMNS})
    comparison = compare_to_frontier(kpis)
    service = class_service(kpis, rules.service_levels)
    console.print(f"BLENDED planned from {name} re-fitted every {config.replan_days} days; the classic "
                  "baselines from the recent-demand bootstrap", highlight=False)
    console.print(kpi_table(kpis, f"Policy simulation over {config.days} days"))
    console.print(frontier_table(comparison))
    console.print(service_table(service))
    if not result.calibration.empty:
        console.print(calibration_table(result.calibration))
    if not with_cost:
        console.print("no unit_cost / unit_price for every SKU: total cost not reported (add a skus table or "
                      "run `blendcast demo-suppliers`)", highlight=False)
    if out is not None:
        tmp = Path(tempfile.mkdtemp(prefix=".simulate-", dir=out.parent if out.parent.exists() else None))
        try:
            write_json(kpis, tmp / "kpis.json", {**config.model_dump(), "forecaster": name})
            kpis.to_csv(tmp / "kpis.csv", index=False)
            comparison.to_csv(tmp / "frontier.csv", index=False)
            service.to_csv(tmp / "class_service.csv", index=False)
            result.calibration.to_csv(tmp / "ltd_calibration.csv", index=False)
            result.series.to_csv(tmp / "series_kpis.csv", index=False)
            write_chart(kpis, tmp / "inventory_vs_fill_rate.png")
            write_frontier_chart(kpis, tmp / "frontier.png")
            out.mkdir(parents=True, exist_ok=True)
            for file in tmp.iterdir():
                shutil.move(str(file), out / file.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        console.print(f"wrote kpis.json, kpis.csv, frontier.csv, class_service.csv, ltd_calibration.csv, "
                      f"series_kpis.csv, "
                      f"inventory_vs_fill_rate.png and frontier.png to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate")(simulate_command)
