"""What one training run does: the options of the weekly job, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features.schema import M5_QUANTILES
from models.base import MAX_HORIZON_DAYS, check_horizon
from models.registry import make_model

# Alerts go before publish: publish is the one atomic step that changes what is served, so it comes last.
STAGES: tuple[str, ...] = ("load", "backtest", "fit", "plan", "register", "alerts", "publish")


@dataclass
class TrainOptions:
    """What one training run does.

    Attributes:
        data_dir: Directory of canonical tables (or use ``database_url``).
        database_url: SQLAlchemy URL holding the canonical tables.
        model: Forecaster name in ``models.registry`` (``combination`` by default).
        model_params: Constructor parameters of that forecaster.
        horizon: Days forecast and published.
        folds: Backtest folds (rolling origins).
        backtest_horizon: Days per backtest fold.
        quantiles: Published quantile levels.
        n_paths: Sample paths per series for lead-time demand.
        rules_path: Policy rules TOML; None uses the packaged defaults.
        tolerance: A challenger may be this much worse (relative WSPL) and still be promoted.
        force: Retrain and publish even when data and settings are unchanged.
        engine: ``"local"`` or ``"dask"``.
        dask_scheduler: Address of a running Dask scheduler (engine ``dask``).
        dask_workers: Workers of a local Dask cluster when no scheduler is given.
        fail_at: Test hook: raise (or, with ``"publish:kill"``, SIGKILL the process inside the publish
            transaction) at this stage.
    """

    data_dir: Path | None = None
    database_url: str | None = None
    model: str = "combination"
    model_params: dict[str, Any] = field(default_factory=dict)
    horizon: int = 28
    folds: int = 2
    backtest_horizon: int = 28
    quantiles: tuple[float, ...] = M5_QUANTILES
    n_paths: int = 300
    rules_path: Path | None = None
    tolerance: float = 0.02
    force: bool = False
    engine: str = "local"
    dask_scheduler: str | None = None
    dask_workers: int = 2
    fail_at: str | None = None

    def check(self) -> None:
        """Raise ValueError naming the first bad option."""
        if (self.data_dir is None) == (self.database_url is None):
            raise ValueError("Give exactly one of --data DIR or --database URL.")
        check_horizon(self.horizon, MAX_HORIZON_DAYS)
        check_horizon(self.backtest_horizon, MAX_HORIZON_DAYS)
        if self.folds < 1:
            raise ValueError(f"The 'folds' must be >= 1. Got {self.folds}.")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"The 'tolerance' must be in [0, 1). Got {self.tolerance}.")
        if self.engine not in ("local", "dask"):
            raise ValueError(f"The 'engine' must be 'local' or 'dask'. Got {self.engine!r}.")
        if self.fail_at is not None and self.fail_at.split(":")[0] not in STAGES:
            raise ValueError(f"The 'fail_at' must name a stage of {STAGES}. Got {self.fail_at!r}.")
        try:
            make_model(self.model, **self.model_params)  # unknown model or parameter: fail before work
        except TypeError as exc:
            raise ValueError(f"--model-params: {exc} Fix: pass only those parameters.") from None
        if self.rules_path is not None:
            from forecasting.inventory.rules import RulesError, load_rules

            if not Path(self.rules_path).is_file():
                raise ValueError(f"The --rules file '{self.rules_path}' does not exist. Fix: give the path "
                                 "of a rules TOML file, or leave --rules out for the packaged defaults.")
            try:
                load_rules(self.rules_path)
            except RulesError as exc:
                raise ValueError(f"The --rules file '{self.rules_path}' is not valid: {exc}") from None

    def spec(self) -> dict[str, Any]:
        """The settings that change what a run produces (part of the unchanged-data check)."""
        return {
            "model": self.model,
            "model_params": self.model_params,
            "horizon": self.horizon,
            "folds": self.folds,
            "backtest_horizon": self.backtest_horizon,
            "quantiles": list(self.quantiles),
            "n_paths": self.n_paths,
            "rules": Path(self.rules_path).read_text() if self.rules_path else "",
        }
