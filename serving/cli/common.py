"""Helpers shared by the CLI command modules: error handling and console output."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

from features.errors import DataValidationError

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
