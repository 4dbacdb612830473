"""Data commands: ``import m5|transactions|carparts|dominicks`` and ``validate``.

Imports validate the converted tables before writing anything; the files are written to a temporary
directory and renamed into ``--out``, so bad input (exit code 2) leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from serving.cli.common import (
    INFER_STOCKOUTS_HELP,
    STOCKOUT_THRESHOLD_HELP,
    bad_input_exits,
    console,
    fail,
    setup_logging,
    stockout_inference,
)

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


class TableFormat(StrEnum):
    """File format of written tables."""

    parquet = "parquet"
    csv = "csv"


class Frequency(StrEnum):
    """Grid of the sales table when validating."""

    auto = "auto"
    daily = "D"
    weekly = "W"
    monthly = "MS"


OUT_OPTION = typer.Option(..., "--out", "-o", help="Directory to write the canonical tables into.")
FORMAT_OPTION = typer.Option(TableFormat.parquet, "--format", help="File format of the written tables.")


def _say(text: str) -> None:
    # Data values (SKU names, paths) may contain brackets: print them verbatim, unwrapped.
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def _import(
    label: str, convert: Callable[[], dict[str, pd.DataFrame]], out: Path, fmt: TableFormat, freq: str
) -> None:
    """Convert, validate, write, then print the health report of what was written."""
    from features.health import format_health_report, health_report
    from features.readers import write_tables
    from features.validation import build_dataset
    from forecasting.infrastructure.settings import get_settings

    setup_logging(get_settings().log_level)
    with bad_input_exits():
        with console.status(f"[bold]{label}[/]: reading and converting ..."):
            tables = convert()
        with console.status(
            f"[bold]{label}[/]: validating {sum(len(t) for t in tables.values()):,} rows ..."
        ):
            dataset = build_dataset(tables, freq=freq)
        with console.status(f"[bold]{label}[/]: writing {', '.join(tables)} to {out} ..."):
            written = write_tables(tables, out, fmt=fmt.value)
    _say(f"Wrote {len(written)} table(s) to {out}: {', '.join(p.name for p in written)}")
    _say(format_health_report(health_report(dataset), title=f"{label} import"))


def import_m5_command(
    src: Path = typer.Argument(
        ..., help="Folder with sales_train*.csv[.gz], calendar.csv, sell_prices.csv[.gz]."
    ),
    out: Path = OUT_OPTION,
    fmt: TableFormat = FORMAT_OPTION,
) -> None:
    """Import the official M5 layout (item = SKU, store = channel) with prices, events and SNAP days."""
    from features.importers import import_m5

    _import("M5", lambda: import_m5(src), out, fmt, "D")


def import_transactions_command(
    file: Path = typer.Argument(..., help="Invoice lines: .parquet, .csv or .csv.gz."),
    out: Path = OUT_OPTION,
    fmt: TableFormat = FORMAT_OPTION,
    sku_col: str | None = typer.Option(None, "--sku-col", help="Product column (default: detected)."),
    date_col: str | None = typer.Option(None, "--date-col", help="Timestamp column (default: detected)."),
    qty_col: str | None = typer.Option(None, "--qty-col", help="Signed quantity column (default: detected)."),
    price_col: str | None = typer.Option(None, "--price-col", help="Unit price column (default: detected)."),
    channel_col: str | None = typer.Option(None, "--channel-col", help="Column naming the sales channel."),
    channel: str = typer.Option(
        "online", "--channel", help="Channel of every line when --channel-col is absent."
    ),
) -> None:
    """Aggregate invoice lines to daily sales: units sold, units returned, weighted unit price."""
    from features.importers import import_transactions

    _import(
        "Transactions",
        lambda: import_transactions(
            file,
            timestamp=date_col,
            sku=sku_col,
            quantity=qty_col,
            price=price_col,
            channel=channel_col,
            default_channel=channel,
        ),
        out,
        fmt,
        "D",
    )


def import_carparts_command(
    file: Path = typer.Argument(..., help="carparts.csv: Part + one column per month (Jan-98 ...)."),
    out: Path = OUT_OPTION,
    fmt: TableFormat = FORMAT_OPTION,
    channel: str = typer.Option("parts", "--channel", help="Channel name of every part."),
) -> None:
    """Import the monthly carparts panel; empty cells become censored months."""
    from features.importers import import_carparts

    _import("Carparts", lambda: import_carparts(file, channel=channel), out, fmt, "MS")


def import_dominicks_command(
    src: Path = typer.Argument(..., help="The dominicks-oj folder or its orangeJuice_yx.csv.gz."),
    out: Path = OUT_OPTION,
    fmt: TableFormat = FORMAT_OPTION,
) -> None:
    """Import Dominick's weekly orange juice (brand = SKU, store = channel); missing weeks are censored."""
    from features.importers import import_dominicks

    _import("Dominick's OJ", lambda: import_dominicks(src), out, fmt, "W")


def validate_command(
    data_dir: Path | None = typer.Argument(None, help="Data directory of canonical tables."),
    database: str | None = typer.Option(
        None, "--database", help="SQLAlchemy URL to read the tables from instead."
    ),
    freq: Frequency = typer.Option(Frequency.auto, "--freq", help="Sales grid: auto-detected, D, W or MS."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also save a PNG of history length and zero share."
    ),
    infer_stockouts: bool | None = typer.Option(
        None, "--infer-stockouts/--no-infer-stockouts", help=INFER_STOCKOUTS_HELP
    ),
    stockout_threshold: float | None = typer.Option(
        None, "--stockout-threshold", help=STOCKOUT_THRESHOLD_HELP
    ),
) -> None:
    """Validate canonical tables and print the data health report (exit code 2 on bad data)."""
    from features.health import format_health_report, health_report, plot_health
    from features.readers import load_dataset, load_dataset_sql
    from forecasting.infrastructure.settings import get_settings

    setup_logging(get_settings().log_level)
    if (data_dir is None) == (database is None):
        raise fail("Give exactly one source: a data directory or --database URL.")
    with bad_input_exits(), console.status("validating ..."):
        stockouts = stockout_inference(infer_stockouts, stockout_threshold)
        if database is not None:
            dataset = load_dataset_sql(database, freq=freq.value, stockouts=stockouts)
        else:
            assert data_dir is not None
            dataset = load_dataset(data_dir, freq=freq.value, stockouts=stockouts)
    source = database if database is not None else str(data_dir)
    _say(format_health_report(health_report(dataset), title=f"Data health of {source}"))
    if plot is not None:
        _say(f"Saved plot to {plot_health(dataset, plot)}")


def register(app: typer.Typer) -> None:
    """Add the data commands to ``app``."""
    import_app = typer.Typer(help="Convert a source layout into canonical tables.", no_args_is_help=True)
    import_app.command("m5")(import_m5_command)
    import_app.command("transactions")(import_transactions_command)
    import_app.command("carparts")(import_carparts_command)
    import_app.command("dominicks")(import_dominicks_command)
    app.add_typer(import_app, name="import")
    app.command("validate")(validate_command)
