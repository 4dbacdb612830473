"""Fixtures of the training tests: a small synthetic catalogue and isolated stores per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.synthetic import generate_catalogue, write_catalogue
from forecasting.infrastructure.settings import Settings
from tests.forecasting.conftest import postgres_server_url, postgres_url  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small catalogue (12 SKUs x 2 channels x 300 days) written once per session."""
    out = tmp_path_factory.mktemp("catalogue") / "data"
    write_catalogue(generate_catalogue(12, 2, 300, seed=5), out)
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose result store and MLflow store live in a fresh temporary home."""
    return Settings(home=tmp_path / "home", n_jobs=1, seed=0)
