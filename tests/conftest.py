"""Fixtures shared by every test layer: the real development data and small canonical tables.

The real data lives next to the repository in ``../shared/data``; tests that need it are skipped with a
clear reason when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real development data (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}; put the shared data next to the repository")
    return SHARED_DATA


def _part(shared_data: Path, relative: str) -> Path:
    path = shared_data / relative
    if not path.exists():
        pytest.skip(f"{path} is missing from the shared data")
    return path


@pytest.fixture(scope="session")
def m5_tiny_dir(shared_data: Path) -> Path:
    """Folder of the m5-tiny data in the official M5 layout (280 series, 1913 days)."""
    return _part(shared_data, "m5-tiny")


@pytest.fixture(scope="session")
def online_retail_dir(shared_data: Path) -> Path:
    """Folder of the UCI Online Retail transaction files (two parquet files)."""
    return _part(shared_data, "online-retail")


@pytest.fixture(scope="session")
def carparts_file(shared_data: Path) -> Path:
    """The wide monthly ``carparts.csv``."""
    return _part(shared_data, "carparts/carparts.csv")


@pytest.fixture(scope="session")
def dominicks_dir(shared_data: Path) -> Path:
    """Folder of Dominick's orange juice data (``orangeJuice_yx.csv.gz``)."""
    return _part(shared_data, "dominicks-oj")


@pytest.fixture
def make_sales() -> Callable[..., pd.DataFrame]:
    """Factory of a small canonical ``sales`` table: ``make_sales(n_skus, n_channels, n_days, seed)``.

    Every series has a row on every day, Poisson(3) units and a price.
    """

    def make(n_skus: int = 2, n_channels: int = 1, n_days: int = 10, seed: int = 0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        keys = pd.MultiIndex.from_product(
            [
                [f"SKU{i}" for i in range(n_skus)],
                [f"web{j}" for j in range(n_channels)],
                pd.date_range("2024-01-01", periods=n_days),
            ],
            names=["sku", "channel", "date"],
        ).to_frame(index=False)
        keys["units"] = rng.poisson(3.0, len(keys)).astype(float)
        keys["price"] = 9.99
        return keys[["date", "sku", "channel", "units", "price"]]

    return make


@pytest.fixture
def write_data_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write ``{table: frame}`` as CSV files into a fresh directory and return it."""

    def write(tables: dict[str, pd.DataFrame], name: str = "data") -> Path:
        out = tmp_path / name
        out.mkdir()
        for table, frame in tables.items():
            frame.to_csv(out / f"{table}.csv", index=False)
        return out

    return write


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    """Each test reads the ``BLENDCAST_*`` environment it sets up (settings are cached per process)."""
    from forecasting.infrastructure.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
