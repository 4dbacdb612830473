"""The forecaster bundle: a fitted forecaster plus the manifest that says how to use it.

A bundle is a directory with ``forecaster.joblib`` and ``manifest.json`` (features, quantiles, horizon,
data window, series count, package versions). It is what MLflow stores as the artifacts of the
``blendcast-demand`` pyfunc model; it is never the serving contract on its own.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from models.base import Forecaster

FORECASTER_FILE = "forecaster.joblib"
MANIFEST_FILE = "manifest.json"
_PINNED = ("blendcast", "pandas", "numpy", "scikit-learn", "lightgbm", "statsmodels", "scipy", "joblib")


@dataclass
class Manifest:
    """What a bundle holds and promises.

    Attributes:
        model: Registry name of the forecaster (e.g. ``"combination"``).
        params: The forecaster's constructor parameters.
        horizon: Days the bundle forecasts.
        quantiles: Quantile levels of its output.
        features: Feature names the model uses (empty for models without features).
        data_start: First sales date of the training data (ISO).
        data_end: Last sales date of the training data (ISO); forecasts start the day after.
        n_series: Number of SKU-channels it forecasts.
        data_hash: Hash of the training tables.
        packages: Versions of the packages it was trained with.
    """

    model: str
    params: dict[str, Any]
    horizon: int
    quantiles: list[float]
    features: list[str]
    data_start: str
    data_end: str
    n_series: int
    data_hash: str
    packages: dict[str, str] = field(default_factory=dict)
    python: str = field(default_factory=platform.python_version)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a bundle depends on."""
    out: dict[str, str] = {}
    for name in _PINNED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def pip_requirements() -> list[str]:
    """Explicit pip requirements for MLflow (inferring them costs seconds per run)."""
    return [f"{name}=={version}" for name, version in package_versions().items() if name != "blendcast"]


def save_bundle(forecaster: Forecaster, manifest: Manifest, directory: Path) -> Path:
    """Write the bundle into ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(forecaster, directory / FORECASTER_FILE, compress=3)
    (directory / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), indent=2, default=str))
    return directory


def load_bundle(directory: Path) -> tuple[Forecaster, Manifest]:
    """Read a bundle written by :func:`save_bundle`."""
    manifest = Manifest(**json.loads((directory / MANIFEST_FILE).read_text()))
    forecaster = joblib.load(directory / FORECASTER_FILE)
    return forecaster, manifest
