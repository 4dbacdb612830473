"""The MLflow pyfunc flavour of a Blendcast forecaster bundle.

Imported only when a model is logged or loaded, because ``import mlflow`` costs seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from training.bundle import load_bundle


class BlendcastForecastModel(PythonModel):  # type: ignore[misc]
    """Serves the bundle's forecasts for the requested ``(sku, channel)`` rows.

    The full forecast (the manifest's horizon and quantiles) is computed once when the model is
    loaded, so a request is a lookup; this is also what makes loading ``models:/blendcast-demand@champion``
    reproduce the published forecasts exactly.
    """

    def load_context(self, context: Any) -> None:
        forecaster, manifest = load_bundle(Path(context.artifacts["bundle"]))
        self.manifest_ = manifest
        self.forecast_ = forecaster.predict(manifest.horizon, manifest.quantiles)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        horizon = int((params or {}).get("horizon", self.manifest_.horizon))
        if not 1 <= horizon <= self.manifest_.horizon:
            raise ValueError(
                f"The 'horizon' must be in 1..{self.manifest_.horizon} days for this model. Got {horizon}."
            )
        keys = model_input[["sku", "channel"]].astype(str).drop_duplicates()
        out = self.forecast_.merge(keys, on=["sku", "channel"], how="inner")
        first = self.forecast_["date"].min()
        out = out[out["date"] < first + pd.Timedelta(days=horizon)]
        out = out.assign(date=out["date"].dt.strftime("%Y-%m-%d"))
        return out.reset_index(drop=True)
