"""The one contract test every registered model must pass (models/base.py)."""

from __future__ import annotations

import inspect
from abc import ABCMeta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from features.schema import forecast_columns
from models.base import Forecaster, NotFittedError
from models.registry import MODELS, make_model

# Small but real settings so the whole file runs in seconds on 2 shared cores.
_LGB = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1}
_ETS = {"forms": ("ANN", "ANA")}
FAST: dict[str, dict[str, Any]] = {
    "lightgbm": _LGB,
    "ets": _ETS,
    "combination": {
        "members": {
            "seasonal_naive": make_model("seasonal_naive"),
            "lightgbm": make_model("lightgbm", **_LGB),
            "ets": make_model("ets", **_ETS),
            "tsb": make_model("tsb"),
        },
        "n_paths_calibration": 20,
    },
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HORIZON = 10


def test_registry_rejects_unknown_names_listing_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown model 'arima'. Valid models: combination, ets"):
        make_model("arima")
    with pytest.raises(TypeError, match=r"Model 'seasonal_naive' has no parameter\(s\) \['alpha'\]"):
        make_model("seasonal_naive", alpha=1)


def test_the_hooks_are_enforced() -> None:
    assert isinstance(Forecaster, ABCMeta)
    assert Forecaster.__abstractmethods__ == {"_fit", "_predict", "_sample_rows"}

    class Incomplete(Forecaster):
        def _fit(self, data: Any) -> None: ...

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_declared_contract(name: str) -> None:
    cls = MODELS[name]
    params = inspect.signature(cls.__init__).parameters
    given = [p for n, p in params.items() if n != "self"]
    # Keyword-only constructors that store their parameters (scikit-learn style).
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in given), name
    assert all(p.default is not inspect.Parameter.empty for p in given), name
    # One declared check per constructor parameter, no check for anything else.
    assert set(cls._param_checks) == {p.name for p in given}, name
    # Every default passes its own check; a value of the wrong kind fails with the parameter named.
    model = cls()
    model._check_params()
    first = given[0].name
    with pytest.raises(ValueError, match=rf"The '{first}' of {cls.__name__} must be .+\. Got "):
        model.set_params(**{first: object()})._check_params()
    # Capabilities are declared on the base class (None when they do not apply), not probed.
    for capability in ("max_horizon_", "feature_names_", "feature_importances_"):
        assert getattr(Forecaster, capability) is None
    reach = cls().holdout_reach
    assert reach is None or reach >= 1
    # One sampling hook.
    assert not hasattr(cls, "_sample_paths")
    # A declared refresh or warm refit is implemented, and only a declared one.
    assert cls.refreshable == (cls.refresh is not Forecaster.refresh), name
    assert cls.warm_refittable == (cls.refit is not Forecaster.refit), name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_contract(name: str, toy_dataset) -> None:
    model = make_model(name, **FAST.get(name, {}))
    with pytest.raises(NotFittedError, match=r"is not fitted yet. Call 'fit'"):
        model.predict(HORIZON, QUANTILES)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.sample_paths(HORIZON, 5)

    before = toy_dataset.sales.copy(deep=True)
    assert model.fit(toy_dataset) is model
    fc = model.predict(HORIZON, QUANTILES)
    pd.testing.assert_frame_equal(toy_dataset.sales, before)  # input not mutated

    series = toy_dataset.series()
    assert list(fc.columns) == [*forecast_columns(QUANTILES), "model"]
    assert len(fc) == len(series) * HORIZON
    served = fc[["sku", "channel"]].astype(str).drop_duplicates().reset_index(drop=True)
    pd.testing.assert_frame_equal(served, series.astype(str))
    assert fc["date"].min() == toy_dataset.end_date + pd.Timedelta(days=1)
    assert fc["date"].max() == toy_dataset.end_date + pd.Timedelta(days=HORIZON)
    values = fc[[*forecast_columns(QUANTILES)[3:]]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (np.diff(values[:, 1:], axis=1) >= 0).all()  # quantiles never cross
    assert fc["model"].astype(str).str.len().gt(0).all()

    again = clone(model).fit(toy_dataset).predict(HORIZON, QUANTILES)
    pd.testing.assert_frame_equal(fc, again)  # same seed, same result

    paths = model.sample_paths(HORIZON, n_paths=25, random_state=3)
    assert paths.values.shape == (len(series), 25, HORIZON)
    assert (paths.values >= 0).all() and np.isfinite(paths.values).all()
    assert paths.start == toy_dataset.end_date + pd.Timedelta(days=1)
    np.testing.assert_allclose(paths.totals(7), paths.values[:, :, :7].sum(axis=2), rtol=1e-5)
    same = model.sample_paths(HORIZON, n_paths=25, random_state=3)
    np.testing.assert_array_equal(paths.values, same.values)

    # Declared capabilities, filled in by fit where they apply.
    assert model.max_horizon_ is None or model.max_horizon_ >= HORIZON
    if model.feature_names_ is not None:
        assert len(model.feature_names_) > 0 and all(isinstance(n, str) for n in model.feature_names_)
    if model.feature_importances_ is not None:
        importances = model.feature_importances_
        assert list(importances.columns) == ["feature", "gain"]
        assert set(importances["feature"]) <= set(model.feature_names_ or [])
        assert importances["gain"].sum() == pytest.approx(1.0)
    # Only LightGBM reads features; a combination has those of its serving members.
    uses_features = name == "lightgbm" or (name == "combination" and "lightgbm" in model.members_)
    assert (model.feature_names_ is not None) == uses_features


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sample_paths_of_a_subset_of_series(name: str, toy_dataset) -> None:
    model = make_model(name, **FAST.get(name, {})).fit(toy_dataset)
    full = model.sample_paths(HORIZON, n_paths=400, random_state=5)
    rows = np.array([len(full.keys) - 1, 0])
    part = model.sample_paths(HORIZON, n_paths=400, random_state=5, rows=rows)
    # The subset comes in the order asked for, with the keys and labels of those rows.
    pd.testing.assert_frame_equal(part.keys, full.keys.iloc[rows].reset_index(drop=True))
    assert part.values.shape == (2, 400, HORIZON)
    assert part.start == full.start
    if full.model is not None:
        assert list(part.model) == list(full.model[rows])
    # Drawn directly or sliced from a full draw: the same distribution per series.
    for i, row in enumerate(rows):
        a, b = part.totals(HORIZON)[i], full.totals(HORIZON)[row]
        assert abs(a.mean() - b.mean()) <= 0.2 * max(b.mean(), 1.0) + 3 * b.std() / np.sqrt(400)
    # Every series in another order comes back in that order too.
    backwards = np.arange(len(full.keys))[::-1]
    flipped = model.sample_paths(HORIZON, n_paths=5, random_state=5, rows=backwards)
    pd.testing.assert_frame_equal(flipped.keys, full.keys.iloc[backwards].reset_index(drop=True))
    with pytest.raises(ValueError, match=r"The 'rows' must be positions of fitted series"):
        model.sample_paths(HORIZON, n_paths=5, rows=np.array([len(full.keys)]))
