"""Helpers shared by the CLI command modules: error handling and console output."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
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

# Exit codes of every command (the README lists them): 0 done, 1 an unexpected error (a bug: the
# traceback is shown), 2 bad input, 3 the training lock is held, 4 a store or the registry cannot be
# used (read-only, unreachable, lost), 5 ``doctor`` found problems it did not repair.
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3
EXIT_STORE = 4
EXIT_UNHEALTHY = 5


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


def _from_mlflow(exc: BaseException) -> bool:
    """Whether ``exc`` is MLflow's own error or was raised inside MLflow's code (its SQL store)."""
    if any(c.__module__.split(".")[0] == "mlflow" for c in type(exc).__mro__):
        return True
    tb = exc.__traceback__
    while tb is not None:
        if "/mlflow/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def store_fault_message(exc: BaseException) -> str | None:
    """One paragraph naming the store that failed and the fix, or None if ``exc`` is no store fault."""
    from forecasting.infrastructure.settings import get_settings

    sql = any(c.__module__.split(".")[0] == "sqlalchemy" for c in type(exc).__mro__)
    if _from_mlflow(exc):
        uri = get_settings().resolved_mlflow_uri
        return (
            f"The MLflow tracking store {uri} failed: {_first_line(exc)}. The result store still serves "
            "what it served before (a training publishes only after MLflow registered its model). Fix: "
            "check that the MLflow database exists and is writable (BLENDCAST_MLFLOW_TRACKING_URI); if "
            "it was deleted, restore it from a backup, then run 'blendcast doctor'."
        )
    if sql:
        import sqlalchemy as sa

        url = sa.make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)
        detail = _first_line(exc)
        if "readonly" in detail.replace("-", "").replace(" ", "").lower():
            return (
                f"The result store {url} is read-only ({detail}): nothing was written and the served run "
                "is unchanged. Fix: make the database file and its folder writable for this user, or "
                "set BLENDCAST_DATABASE_URL to a writable database."
            )
        return (
            f"The result store {url} cannot be used: {detail}. Nothing was published. Fix: check that "
            "the database is reachable and this user may write to it (BLENDCAST_DATABASE_URL)."
        )
    return None


@contextmanager
def store_fault_exits() -> Iterator[None]:
    """Turn a store or registry fault into one paragraph and exit code 4 (no traceback)."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        message = store_fault_message(exc)
        if message is None:
            if type(exc).__name__ == "RegistryLostError":
                raise fail(str(exc), code=EXIT_STORE) from None
            raise
        raise fail(message, code=EXIT_STORE) from None


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


def check_out_file(out: Path, suffixes: Sequence[str], expected: str, example: str) -> str:
    """``--out``'s lower-case suffix, once it is one of ``suffixes`` and its folder exists.

    Args:
        out: The ``--out`` path.
        suffixes: Accepted suffixes, lower case with the dot.
        expected: How the message names them (e.g. ``".csv or .parquet"``).
        example: A file name for the fix (e.g. ``"forecast.csv"``).

    Raises:
        ValueError, FileNotFoundError: Naming ``--out``, what it must be and the fix.
    """
    suffix = out.suffix.lower()
    if suffix not in suffixes:
        raise ValueError(
            f"The --out file must end in {expected}. Got '{out.name}'. Use e.g. --out {example}."
        )
    if not out.parent.exists():
        raise FileNotFoundError(f"The folder of --out '{out.parent}' does not exist. Create it first.")
    return suffix


@contextmanager
def atomic_file(out: Path) -> Iterator[Path]:
    """A temporary file next to ``out`` to write; it replaces ``out`` when the block succeeds and is
    removed otherwise, so a failure leaves no partial file."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
