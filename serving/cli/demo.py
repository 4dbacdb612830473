"""``blendcast demo-data``: write a synthetic catalogue (tables plus ground truth) to a directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from serving.cli.common import bad_input_exits, console, setup_logging


def demo_data_command(
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the catalogue into."),
    skus: int = typer.Option(60, "--skus", help="Number of SKUs (>= 1)."),
    channels: int = typer.Option(
        3, "--channels", help="Number of channels (>= 1): own_shop, marketplace, wholesale, channel_4..."
    ),
    days: int = typer.Option(730, "--days", help="Days of sales history (>= 28)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed; default BLENDCAST_SEED."),
    start: str = typer.Option("2023-01-01", "--start", help="First sales day."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Also save overview.png of the catalogue."),
) -> None:
    """Generate a realistic synthetic catalogue with its ground truth (same seed, same files)."""
    from features.synthetic import check_output_dir, generate_catalogue, write_catalogue
    from forecasting.infrastructure.settings import get_settings

    settings = get_settings()
    setup_logging(settings.log_level)
    seed_value = settings.seed if seed is None else seed
    with bad_input_exits():
        # Check the target before the (possibly long) generation so bad input fails at once.
        check_output_dir(out.expanduser().resolve())
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    label = "simulating sales" if stage == "sales" else f"assembling {stage}"
                    tasks[stage] = bar.add_task(label, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            cat = generate_catalogue(skus, channels, days, seed_value, start, progress=report)
        with console.status(f"[bold]writing[/] {len(cat.sales):,} sales rows and the truth to {out} ..."):
            written = write_catalogue(cat, out, plot=plot)
    table = Table(title=f"Synthetic catalogue in {written} (seed {seed_value})")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in cat.summary().items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    console.print(table)
    console.print(
        f"Ground truth in {written / 'truth'} (read it with features.synthetic.read_truth)"
        + (f"; overview plot {written / 'overview.png'}" if plot else ""),
        highlight=False,
    )


def demo_suppliers_command(
    data: Path = typer.Option(..., "--data", help="Data directory holding the sales table."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed; default BLENDCAST_SEED."),
    per_role: int = typer.Option(1, "--suppliers-per-role", help="Suppliers of each lead-time law (>= 1)."),
    force: bool = typer.Option(False, "--force", help="Replace existing skus / suppliers / receipts tables."),
) -> None:
    """Add simulated skus, suppliers and receipts (known lead-time laws) to a sales-only data directory.

    Four supplier laws: fast reliable domestic (promises 3 days), domestic quoting 4 days and delivering
    in about 9, a long import (30 days promised, ~34 delivered), an unreliable import (21 promised,
    27 +- 8). Lets you try ``blendcast policy`` and ``blendcast simulate`` before you have receipts.
    """
    import pandas as pd

    from features.readers import read_table, table_files
    from features.synthetic.suppliers_for_sales import simulate_suppliers
    from forecasting.infrastructure.settings import get_settings

    settings = get_settings()
    setup_logging("WARNING")
    seed_value = settings.seed if seed is None else seed
    with bad_input_exits():
        files = table_files(data)
        if "sales" not in files:
            raise FileNotFoundError(f"--data '{data}' holds no sales table (sales.csv or sales.parquet). "
                                    "Give the directory of your sales data.")
        existing = [f.name for name, f in files.items() if name in ("skus", "suppliers", "receipts")]
        if existing and not force:
            raise ValueError(f"--data '{data}' already holds {', '.join(existing)}. Pass --force to replace "
                             "them, or use another directory.")
        if per_role < 1:
            raise ValueError(f"--suppliers-per-role must be >= 1. Got {per_role}.")
        with console.status("reading sales ..."):
            sales = read_table("sales", files["sales"])
            sales["date"] = pd.to_datetime(sales["date"])
        supply = simulate_suppliers(sales, seed=seed_value, suppliers_per_role=per_role)
        staged = []
        try:
            for name, frame in supply.tables().items():
                tmp = data / f".{name}.csv.tmp"
                frame.to_csv(tmp, index=False)
                staged.append((tmp, data / f"{name}.csv"))
            for name in ("skus", "suppliers", "receipts"):
                if name in files:
                    files[name].unlink()
            for tmp, target in staged:
                tmp.replace(target)
        finally:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
    table = Table(title=f"Simulated suppliers in {data} (seed {seed_value})")
    for col in ("supplier", "role", "promised", "true mean", "true sd", "SKUs", "receipts"):
        table.add_column(col, justify="left" if col in ("supplier", "role") else "right")
    n_skus = supply.skus["supplier"].value_counts()
    n_rec = supply.receipts["supplier"].value_counts()
    for r in supply.truth.to_dict(orient="records"):
        table.add_row(r["supplier"], r["role"], f"{r['promised_lead_time_days']:.0f}",
                      f"{r['lead_time_mean']:.1f}", f"{r['lead_time_sd']:.1f}",
                      str(int(n_skus.get(r["supplier"], 0))),
                      str(int(n_rec.get(r["supplier"], 0))))
    console.print(table)
    console.print(f"wrote skus.csv ({len(supply.skus)} SKUs), suppliers.csv and receipts.csv "
                  f"({len(supply.receipts)} rows) to {data}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``demo-data`` and ``demo-suppliers`` commands to ``app``."""
    app.command("demo-data")(demo_data_command)
    app.command("demo-suppliers")(demo_suppliers_command)
