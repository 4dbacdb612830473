"""MLflow tracking and the ``blendcast-demand`` registry: champion / challenger by alias.

``mlflow`` is imported lazily in every function: it costs seconds and the serving path must not pay
for it at start-up.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

MODEL_NAME = "blendcast-demand"
EXPERIMENT = "blendcast-weekly"
CHAMPION = "champion"
CHALLENGER = "challenger"
PRIMARY_METRIC = "backtest_wspl"
STORE_RUN_TAG = "store_run_id"


class RegistryError(RuntimeError):
    """A registry operation cannot be done (unknown version, nothing to roll back to)."""


@dataclass
class VersionInfo:
    """One registered version of the model with its aliases and its run's metrics."""

    version: int
    run_id: str
    aliases: list[str]
    metrics: dict[str, float]
    created_at: pd.Timestamp
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def promoted_at(self) -> float | None:
        """When it last became champion (epoch seconds), if ever."""
        value = self.tags.get("promoted_at")
        return float(value) if value else None


@dataclass
class Decision:
    """The outcome of comparing a challenger with the champion."""

    promote: bool
    reason: str


class Registry:
    """The model registry on an MLflow tracking URI (SQLite by default, or an MLflow server).

    Args:
        tracking_uri: MLflow tracking and registry URI.
        model_name: Registered model name.
        artifact_root: Directory (or URI) of the experiment's artifacts when this registry creates it;
            None leaves MLflow's default, which for a database URI is ``./mlruns`` of the current
            directory (the pipeline always passes ``Settings.resolved_artifact_root``).
    """

    def __init__(self, tracking_uri: str, model_name: str = MODEL_NAME, *,
                 artifact_root: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.artifact_root = artifact_root

    def _client(self) -> Any:
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def log_candidate(
        self,
        bundle_dir: Path,
        *,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        artifacts: Mapping[str, Path],
        input_example: pd.DataFrame,
        output_example: pd.DataFrame,
        pip_requirements: list[str],
        tags: Mapping[str, str] | None = None,
        version_tags: Mapping[str, str] | None = None,
    ) -> VersionInfo:
        """Log one training run and register its pyfunc model (no alias moves yet).

        Aliases move only once the run is published (:meth:`set_aliases`), so a failure in between
        leaves ``champion`` and ``challenger`` where they were.

        Args:
            bundle_dir: The forecaster bundle (see ``training.bundle``).
            params: Run parameters (data window, feature spec, model settings).
            metrics: Backtest metrics; must hold ``backtest_wspl``.
            artifacts: Files to log beside the model (backtest table, plots, manifest...).
            input_example: A request frame (``sku, channel``).
            output_example: The model's answer to it, for the signature.
            pip_requirements: Explicit requirements (inference costs seconds).
            tags: Extra run tags.
            version_tags: Tags of the new model version (the pipeline records its result-store run,
                :data:`STORE_RUN_TAG`, to recognise a lost or replaced registry later).

        Returns:
            The new version.
        """
        import mlflow
        from mlflow.models import infer_signature
        from mlflow.types.schema import ParamSchema, ParamSpec

        from training.pyfunc_model import BlendcastForecastModel

        client = self._client()
        mlflow.set_experiment(experiment_id=self._experiment_id(client))
        signature = infer_signature(input_example, output_example)
        signature.params = ParamSchema([ParamSpec("horizon", "long", int(params.get("horizon", 28)))])
        with mlflow.start_run(tags=dict(tags or {})) as run:
            mlflow.log_params({k: _param_text(v) for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if _finite(v)})
            for name, path in artifacts.items():
                mlflow.log_artifact(str(path), artifact_path=name)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=BlendcastForecastModel(),
                artifacts={"bundle": str(bundle_dir)},
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements,
            )
            version = mlflow.register_model(info.model_uri, self.model_name)
        client.set_model_version_tag(self.model_name, version.version, "run_id", run.info.run_id)
        for key, value in (version_tags or {}).items():
            client.set_model_version_tag(self.model_name, version.version, key, value)
        return self.get(int(version.version))

    def _experiment_id(self, client: Any) -> str:
        """The experiment's id, creating it with :attr:`artifact_root` as artifact location."""
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            location = str(found.artifact_location)
            if self.artifact_root and not any(
                location.startswith(root) for root in (self.artifact_root, self._artifact_uri() or "")
            ):
                log.warning(
                    "The MLflow experiment '%s' was created before Blendcast set an artifact root: its "
                    "artifacts stay at %s (MLflow cannot move them). Delete the experiment, or point "
                    "BLENDCAST_MLFLOW_TRACKING_URI at a fresh database, to use %s.",
                    EXPERIMENT, found.artifact_location, self.artifact_root,
                )
            return str(found.experiment_id)
        return str(client.create_experiment(EXPERIMENT, artifact_location=self._artifact_uri()))

    def _artifact_uri(self) -> str | None:
        root = self.artifact_root
        if not root:
            return None
        return root if "://" in root else Path(root).expanduser().resolve().as_uri()

    def aliases(self) -> dict[str, int]:
        """Current ``{alias: version}`` of the model (empty before the first registration)."""
        from mlflow.exceptions import MlflowException

        try:
            model = self._client().get_registered_model(self.model_name)
        except MlflowException:
            return {}
        return {alias: int(version) for alias, version in (model.aliases or {}).items()}

    def set_aliases(self, aliases: Mapping[str, int]) -> None:
        """Point each alias at its version; aliases not named are left alone."""
        client = self._client()
        for alias, version in aliases.items():
            client.set_registered_model_alias(self.model_name, alias, str(version))
            if alias == CHAMPION:
                client.set_model_version_tag(
                    self.model_name, str(version), "promoted_at", f"{time.time():.6f}"
                )

    def restore_aliases(self, snapshot: Mapping[str, int]) -> None:
        """Put ``champion`` and ``challenger`` back as in ``snapshot`` (taken with :meth:`aliases`)."""
        client = self._client()
        current = self.aliases()
        for alias in (CHAMPION, CHALLENGER):
            if alias in snapshot and current.get(alias) != snapshot[alias]:
                client.set_registered_model_alias(self.model_name, alias, str(snapshot[alias]))
            elif alias not in snapshot and alias in current:
                client.delete_registered_model_alias(self.model_name, alias)

    def delete_alias(self, alias: str) -> None:
        """Remove ``alias`` from whichever version holds it (no-op when none does)."""
        if alias in self.aliases():
            self._client().delete_registered_model_alias(self.model_name, alias)

    def get(self, version: int) -> VersionInfo:
        """One version with its aliases and metrics."""
        from mlflow.exceptions import MlflowException

        client = self._client()
        try:
            mv = client.get_model_version(self.model_name, str(version))
        except MlflowException:
            raise RegistryError(
                f"Model '{self.model_name}' has no version {version}. "
                "Run 'blendcast models' to list the versions."
            ) from None
        metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
        return VersionInfo(
            version=int(mv.version),
            run_id=mv.run_id or "",
            aliases=list(getattr(mv, "aliases", []) or []),
            metrics=dict(metrics),
            created_at=pd.Timestamp(mv.creation_timestamp, unit="ms"),
            tags=dict(mv.tags or {}),
        )

    def by_alias(self, alias: str) -> VersionInfo | None:
        """The version holding ``alias``, or None."""
        from mlflow.exceptions import MlflowException

        client = self._client()
        try:
            mv = client.get_model_version_by_alias(self.model_name, alias)
        except MlflowException:
            return None
        return self.get(int(mv.version))

    def champion(self) -> VersionInfo | None:
        """The served version, or None before the first promotion."""
        return self.by_alias(CHAMPION)

    def list_versions(self) -> list[VersionInfo]:
        """Every version, newest first."""
        client = self._client()
        versions = client.search_model_versions(f"name = '{self.model_name}'")
        return sorted((self.get(int(v.version)) for v in versions), key=lambda v: -v.version)

    def decide(
        self,
        metrics: Mapping[str, float],
        *,
        champion_wspl: float | None,
        tolerance: float,
        coverage_bounds: tuple[float, float] = (0.80, 1.0),
    ) -> Decision:
        """Whether a candidate with these backtest ``metrics`` may replace the champion.

        It must pass the sanity checks (finite WSPL, 95% coverage within ``coverage_bounds``) and its
        backtest WSPL must be no worse than ``champion_wspl`` (the champion's configuration scored on
        the same folds) times ``1 + tolerance``.
        """
        wspl = metrics.get(PRIMARY_METRIC)
        if wspl is None or not math.isfinite(wspl):
            return Decision(False, f"sanity check failed: {PRIMARY_METRIC} is {wspl}")
        cov = metrics.get("backtest_coverage_95")
        if cov is not None and not coverage_bounds[0] <= cov <= coverage_bounds[1]:
            return Decision(
                False,
                f"sanity check failed: 95% interval coverage {cov:.3f} outside "
                f"[{coverage_bounds[0]:.2f}, {coverage_bounds[1]:.2f}]",
            )
        if champion_wspl is None:
            return Decision(True, "no champion yet")
        if wspl <= champion_wspl * (1.0 + tolerance):
            return Decision(True, f"WSPL {wspl:.4f} vs the champion's {champion_wspl:.4f} on the same folds")
        return Decision(
            False,
            f"WSPL {wspl:.4f} is worse than the champion's {champion_wspl:.4f} on the same folds "
            f"beyond the tolerance of {tolerance:.1%}",
        )

    def rollback_target(self) -> tuple[VersionInfo, VersionInfo]:
        """``(current champion, the version promoted before it)``; nothing is changed.

        Raises:
            RegistryError: Without a champion, or when it is the first promoted version.
        """
        current = self.champion()
        if current is None or current.promoted_at is None:
            raise RegistryError("There is no champion to roll back from. Train and promote a model first.")
        earlier = [
            v
            for v in self.list_versions()
            if v.promoted_at is not None
            and v.promoted_at < current.promoted_at
            and v.version != current.version
        ]
        if not earlier:
            raise RegistryError(
                f"Champion v{current.version} is the first promoted version: "
                "there is nothing to roll back to."
            )
        return current, max(earlier, key=lambda v: v.promoted_at or 0.0)

    def apply_rollback(self, current: VersionInfo, target: VersionInfo) -> None:
        """Give ``champion`` to ``target`` and unstamp ``current`` (so a second rollback goes further)."""
        client = self._client()
        client.set_registered_model_alias(self.model_name, CHAMPION, str(target.version))
        client.delete_model_version_tag(self.model_name, str(current.version), "promoted_at")
        client.set_model_version_tag(
            self.model_name, str(current.version), "rolled_back_at", f"{time.time():.6f}"
        )

    def log_text(self, version: int, text: str, artifact_file: str) -> None:
        """Attach a text artifact (e.g. the drift report) to the run that produced ``version``."""
        info = self.get(version)
        self._client().log_text(info.run_id, text, artifact_file)

    def load(self, alias: str = CHAMPION) -> Any:
        """Load ``models:/blendcast-demand@alias`` as an MLflow pyfunc model."""
        import mlflow.pyfunc

        self._client()
        return mlflow.pyfunc.load_model(f"models:/{self.model_name}@{alias}")


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."
