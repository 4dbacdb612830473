"""The ``blendcast`` command line.

Each command group lives in its own module under ``serving/cli/`` and exposes ``register(app)``; this
module only assembles them, so capabilities add commands without touching each other.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

# Modules that contribute commands, in --help order. A capability adds its module here once its
# commands work end to end (no stubs).
COMMAND_MODULES: tuple[str, ...] = (
    "serving.cli.data",
    "serving.cli.demo",
    "serving.cli.forecast",
    "serving.cli.policy",
    "serving.cli.orders",
    "serving.cli.simulate",
    "serving.cli.exceptions",
    "serving.cli.kpis",
    "serving.cli.what_if",
    "serving.cli.train",
    "serving.cli.ops",
    "serving.cli.summary",
    "serving.cli.keys",
    "serving.cli.serve",
    "serving.cli.drift",
    "serving.cli.alerts",
)


def _read_settings_afresh() -> None:
    """Each invocation reads the ``BLENDCAST_*`` environment once: a process runs one command, but
    in-process runners (the tests' CliRunner) run many, each with its own environment."""
    settings = sys.modules.get("forecasting.infrastructure.settings")
    if settings is not None:  # not imported yet: nothing cached, and --help stays free of pydantic
        settings.get_settings.cache_clear()


def build_app() -> typer.Typer:
    """Assemble the Typer application from every command module."""
    app = typer.Typer(
        name="blendcast",
        help="Blendcast: demand forecasts and blended JIT / safety-stock replenishment.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_read_settings_afresh)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    _guard_store_faults(app)
    return app


def _guard_store_faults(app: typer.Typer) -> None:
    """Every command turns a store or registry fault into one paragraph and exit 4 (no traceback)."""
    from serving.cli.common import store_fault_exits

    def guard(callback: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(callback)
        def run(*args: Any, **kwargs: Any) -> Any:
            with store_fault_exits():
                return callback(*args, **kwargs)

        return run

    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = guard(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _guard_store_faults(group.typer_instance)


def main() -> None:
    """Console-script entry point."""
    build_app()()
