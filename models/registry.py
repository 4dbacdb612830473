"""Name -> class map of every forecaster, so pipelines, the CLI and benchmarks build models by name.

The map is lazy: listing the names imports nothing, and a model's module (LightGBM, statsmodels, ...)
is imported the first time its class is looked up, so the command line starts without them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.base import Forecaster

# name -> (module, class); the order is the order the CLI lists them in.
_LOCATIONS: dict[str, tuple[str, str]] = {
    "seasonal_naive": ("models.baselines", "SeasonalNaive"),
    "lightgbm": ("models.lightgbm_quantile", "LightGBMQuantile"),
    "ets": ("models.ets", "ETSForecaster"),
    "tsb": ("models.intermittent", "TSBForecaster"),
    "combination": ("models.combination", "Combination"),
}
MODEL_NAMES: tuple[str, ...] = tuple(_LOCATIONS)


class _Registry(Mapping[str, "type[Forecaster]"]):
    """Read-only ``name -> Forecaster class`` map that imports a model's module on first lookup."""

    def __getitem__(self, name: str) -> type[Forecaster]:
        module, attr = _LOCATIONS[name]
        cls: type[Forecaster] = getattr(importlib.import_module(module), attr)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(_LOCATIONS)

    def __len__(self) -> int:
        return len(_LOCATIONS)


MODELS: Mapping[str, type[Forecaster]] = _Registry()


def make_model(name: str, **params: Any) -> Forecaster:
    """Build the model registered as ``name`` with keyword ``params``.

    Args:
        name: A key of :data:`MODELS`.
        **params: Constructor parameters; unknown ones raise TypeError naming the model.

    Raises:
        ValueError: If ``name`` is not registered (the message lists the valid names).
    """
    if name not in MODELS:
        raise ValueError(
            f"Unknown model {name!r}. Valid models: {', '.join(sorted(MODELS))}. "
            "Pick one of these names (e.g. --models seasonal_naive,combination)."
        )
    cls = MODELS[name]
    valid = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(
            f"Model {name!r} has no parameter(s) {unknown}. Valid parameters: {sorted(valid)}."
        )
    return cls(**params)
