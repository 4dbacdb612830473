"""Name -> class map of every forecaster, so pipelines, the CLI and benchmarks build models by name."""

from __future__ import annotations

from typing import Any

from models.base import Forecaster
from models.baselines import SeasonalNaive
from models.combination import Combination
from models.ets import ETSForecaster
from models.intermittent import TSBForecaster
from models.lightgbm_quantile import LightGBMQuantile

MODELS: dict[str, type[Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "lightgbm": LightGBMQuantile,
    "ets": ETSForecaster,
    "tsb": TSBForecaster,
    "combination": Combination,
}


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
