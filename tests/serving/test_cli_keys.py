"""The api-key commands: the key is printed once, stored hashed, listed without secrets, revocable."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from serving.cli import COMMAND_MODULES
from serving.cli.keys import register

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    # Only this module's commands: other command modules' state must not decide these tests.
    cli = typer.Typer()
    register(cli)
    cli.command("noop", hidden=True)(lambda: None)  # a lone group would be flattened by Typer
    return cli


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BLENDCAST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BLENDCAST_DATABASE_URL", raising=False)
    return tmp_path / "home"


def test_create_prints_the_key_once_and_it_verifies(app: typer.Typer, home: Path) -> None:
    result = runner.invoke(app, ["api-key", "create", "--scope", "admin", "--name", "ops"])
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert plaintext.startswith("bck_") and "\n" not in plaintext
    assert "cannot be shown again" in result.stderr
    store = ResultStore.from_settings(Settings(home=home))
    assert store.verify_api_key(plaintext) == "admin"
    store.dispose()

    listed = runner.invoke(app, ["api-key", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ops" in listed.stdout and "admin" in listed.stdout
    assert plaintext.split("_", 2)[2] not in listed.stdout


def test_revoke_stops_the_key(app: typer.Typer, home: Path) -> None:
    plaintext = runner.invoke(app, ["api-key", "create", "--scope", "read"]).stdout.strip()
    result = runner.invoke(app, ["api-key", "revoke", "1"])
    assert result.exit_code == 0, result.output
    store = ResultStore.from_settings(Settings(home=home))
    assert store.verify_api_key(plaintext) is None
    store.dispose()


def test_bad_input_exits_2(app: typer.Typer, home: Path) -> None:
    unknown = runner.invoke(app, ["api-key", "revoke", "42"])
    assert unknown.exit_code == 2
    assert "no API key with id 42" in unknown.stderr
    bad_scope = runner.invoke(app, ["api-key", "create", "--scope", "root"])
    assert bad_scope.exit_code == 2
    assert "'root' is not one of" in bad_scope.output
    empty = runner.invoke(app, ["api-key", "list"])
    assert empty.exit_code == 0 and "No API keys yet" in empty.stderr


def test_unreachable_store_exits_4(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BLENDCAST_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    result = runner.invoke(app, ["api-key", "list"])
    assert result.exit_code == 4
    assert "cannot be used" in result.stderr and "BLENDCAST_DATABASE_URL" in result.stderr


def test_the_commands_are_registered() -> None:
    assert "serving.cli.keys" in COMMAND_MODULES
