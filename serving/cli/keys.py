"""API-key commands: ``api-key create --scope read|admin [--name]``, ``api-key list``, ``api-key revoke ID``.

Keys live hashed in the result store (``BLENDCAST_DATABASE_URL``, or SQLite under ``BLENDCAST_HOME``);
the plaintext is printed once, alone on stdout, so ``KEY=$(blendcast api-key create --scope read)``
captures it, and the notes go to stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from serving.cli.common import EXIT_STORE, bad_input_exits, console, err_console, fail, store_fault_message

if TYPE_CHECKING:
    from forecasting.persistence import ResultStore


class Scope(StrEnum):
    """What a key may do: ``read`` forecasts and reports, or ``admin`` (also retrain and manage)."""

    read = "read"
    admin = "admin"


@contextmanager
def _store() -> Iterator[ResultStore]:
    """The configured store; unknown ids exit 2, an unreachable or read-only database exits 4."""
    import sqlalchemy as sa

    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import NotFoundError, ResultStore

    store = ResultStore.from_settings(get_settings())
    try:
        with bad_input_exits():
            yield store
    except NotFoundError as exc:
        raise fail(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise fail(store_fault_message(exc) or str(exc), EXIT_STORE) from None
    finally:
        store.dispose()


def _when(value: Any) -> str:
    import pandas as pd

    if value is None or pd.isna(value):
        return "-"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def create(
    scope: Scope = typer.Option(..., "--scope", help="read: forecasts and reports; admin: also retrain."),
    name: str = typer.Option("", "--name", help="Who or what the key is for, e.g. 'ims-prod'."),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    with _store() as store:
        key_id, plaintext = store.create_api_key(scope.value, name=name)
    console.print(plaintext, highlight=False, markup=False, soft_wrap=True)
    err_console.print(
        f"Created API key {key_id} (scope {scope.value}{f', name {name!r}' if name else ''}). "
        "Store it now: it cannot be shown again. Send it as the X-API-Key header.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def list_keys() -> None:
    """List the API keys (never their secrets)."""
    with _store() as store:
        keys = store.list_api_keys()
    if keys.empty:
        err_console.print(
            "No API keys yet. Create one with: blendcast api-key create --scope read", markup=False
        )
        return
    table = Table(title="API keys")
    for col in ("id", "name", "scope", "prefix", "created", "last used", "revoked"):
        table.add_column(col, justify="right" if col == "id" else "left")
    for row in keys.itertuples(index=False):
        table.add_row(
            str(row.id),
            str(row.name),
            str(row.scope),
            f"bck_{row.prefix}_…",
            _when(row.created_at),
            _when(row.last_used_at),
            _when(row.revoked_at),
        )
    console.print(table)


def revoke(key_id: int = typer.Argument(..., help="Id of the key, as shown by `api-key list`.")) -> None:
    """Revoke an API key: it stops working at once."""
    with _store() as store:
        store.revoke_api_key(key_id)
    console.print(f"Revoked API key {key_id}.", markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``api-key`` command group to ``app``."""
    keys = typer.Typer(
        name="api-key", help="Create, list and revoke API keys of the HTTP API.", no_args_is_help=True
    )
    keys.command("create")(create)
    keys.command("list")(list_keys)
    keys.command("revoke")(revoke)
    app.add_typer(keys, name="api-key")
