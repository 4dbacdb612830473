"""Data commands: ``import m5``, ``import transactions``, ``validate``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the data commands to ``app``."""
