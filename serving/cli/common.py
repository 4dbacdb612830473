"""Helpers shared by the CLI command modules: error handling and console output."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from features.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from features.dataset import Dataset
    from features.stockouts import StockoutInference

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``message`` on stderr and return the Exit to raise (exit code 2 for bad input)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Turn bad-input errors (validation, ValueError, missing files) into a message and exit 2."""
    try:
        yield
    except DataValidationError as exc:
        raise fail(str(exc)) from None
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        raise fail(str(exc)) from None


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn`` under :func:`bad_input_exits`."""
    with bad_input_exits():
        return fn()


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once for command-line runs."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


INFER_STOCKOUTS_HELP = ("Without an in_stock column, censor zero runs improbable under the series' recent "
                        "rate as likely stockouts (default: BLENDCAST_INFER_STOCKOUTS, on).")
STOCKOUT_THRESHOLD_HELP = ("Probability in (0, 1) below which a zero run counts as a stockout "
                           "(default: BLENDCAST_STOCKOUT_THRESHOLD, 0.001).")


def stockout_inference(infer: bool | None, threshold: float | None) -> StockoutInference | None:
    """The stockout inference of ``--infer-stockouts`` / ``--stockout-threshold`` over the settings.

    Raises:
        ValueError: If the threshold is outside (0, 1) (naming the option and the fix).
    """
    from features.stockouts import StockoutInference
    from forecasting.infrastructure.settings import get_settings

    settings = get_settings()
    if not (settings.infer_stockouts if infer is None else infer):
        return None
    value = settings.stockout_threshold if threshold is None else threshold
    if not 0 < value < 1:
        raise ValueError(f"--stockout-threshold must be a probability in (0, 1), e.g. 0.001. Got {value}. "
                         "Use --no-infer-stockouts to turn the inference off.")
    return StockoutInference(threshold=value)


def load_data_as_of(data_dir: Path, as_of: str | None) -> tuple[Dataset, pd.Timestamp]:
    """Load ``--data`` and cut it at ``--as-of`` (default: its last sales date).

    Raises:
        FileNotFoundError, NotADirectoryError, ValueError: With the option named and the fix.
    """
    import pandas as pd

    from features.readers import load_dataset

    if not data_dir.exists():
        raise FileNotFoundError(
            f"--data directory '{data_dir}' does not exist. Give the folder holding sales.csv."
        )
    if not data_dir.is_dir():
        raise NotADirectoryError(f"--data must be a directory holding sales.csv. Got the file '{data_dir}'.")
    data = load_dataset(data_dir, stockouts=stockout_inference(None, None))
    if as_of is None:
        return data, data.end_date
    try:
        date = pd.Timestamp(as_of)
    except ValueError:
        raise ValueError(f"--as-of must be a date like 2025-06-30. Got {as_of!r}.") from None
    if not data.start_date <= date <= data.end_date:
        raise ValueError(f"--as-of {date.date()} lies outside the sales history "
                         f"({data.start_date.date()} .. {data.end_date.date()}). Pick a date inside it.")
    return data.truncate(date), date
