"""``blendcast demo-data``: write a synthetic catalogue (tables plus ground truth) to a directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.synthetic import check_output_dir, generate_catalogue, write_catalogue
from forecasting.infrastructure.settings import Settings
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
    settings = Settings()
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


def register(app: typer.Typer) -> None:
    """Add the ``demo-data`` command to ``app``."""
    app.command("demo-data")(demo_data_command)
