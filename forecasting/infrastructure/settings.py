"""Runtime configuration: the one place that reads the environment (prefix ``BLENDCAST_``)."""

from __future__ import annotations

import math
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from features.stockouts import StockoutInference


class Settings(BaseSettings):
    """Blendcast settings, read from ``BLENDCAST_*`` environment variables.

    Every default is embedded so that nothing needs to be set up: the result store and the MLflow
    tracking store are SQLite files under ``home``.

    Attributes:
        home: Working directory for the embedded stores, artifacts, locks and reports.
        database_url: SQLAlchemy URL of the result store; empty means SQLite under ``home``.
        mlflow_tracking_uri: MLflow tracking and registry URI; empty means SQLite under ``home``.
        n_jobs: Threads for model fitting; 0 uses every core.
        horizon: Days forecast ahead by the weekly job.
        seed: Seed of every random draw the job makes (sample paths, simulations).
        cors_origins: Origins allowed by the API's CORS middleware; empty disables CORS.
        max_request_bytes: Largest request body the API accepts.
        api_poll_seconds: How often the API checks the store for a newly published run (0 disables).
        data_dir: Canonical tables whose sales history the analyst pages draw under the fan charts.
        webhook_urls: Receivers of alert webhooks.
        webhook_secret: Key of the HMAC-SHA256 signature sent with every webhook.
        log_level: Python logging level name.
        excess_cover_days: Days of cover above which stock is an ``excess_stock`` exception.
        run_out_probability: Chance of running out before the next receipt that is a ``stockout_risk``.
        jit_max_stockouts: Stockout events per quarter a JIT SKU-channel may have before its policy is
            flagged.
        ss_turnover_floor: Turns per year below which a safety-stock SKU-channel is flagged.
        holding_rate: Yearly cost of holding stock as a fraction of its value (realized KPIs).
        public_pages: Serve the /ui pages and /reports without a key (off: a read key via header or the
            login form's cookie is needed).
        infer_stockouts: When ``sales`` has no ``in_stock`` column, censor zero runs that are
            improbable under the series' recent rate as likely stockouts (:mod:`features.stockouts`).
        stockout_threshold: Probability below which a zero run counts as a stockout, in (0, 1).
        mlflow_artifact_root: Where MLflow keeps run artifacts and models; empty means
            ``$BLENDCAST_HOME/mlartifacts`` (never the current directory).
        lock_stale_seconds: A training lock whose holder runs on another host (so its process cannot
            be checked) is taken over after this many seconds without a heartbeat; a holder on this
            host that died is taken over at once.
    """

    model_config = SettingsConfigDict(env_prefix="BLENDCAST_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".blendcast")
    database_url: str = ""
    mlflow_tracking_uri: str = ""
    n_jobs: int = 0
    horizon: int = 28
    seed: int = 0
    cors_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = 2_000_000
    api_poll_seconds: float = 30.0
    data_dir: Path | None = None
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: str = ""
    log_level: str = "INFO"
    excess_cover_days: float = 90.0
    run_out_probability: float = 0.25
    jit_max_stockouts: float = 1.0
    ss_turnover_floor: float = 3.0
    holding_rate: float = 0.25
    public_pages: bool = False
    infer_stockouts: bool = True
    stockout_threshold: float = 0.001
    mlflow_artifact_root: str = ""
    lock_stale_seconds: float = 900.0

    @field_validator("horizon")
    @classmethod
    def _check_horizon(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"BLENDCAST_HORIZON must be a positive number of days. Got {value}.")
        return value

    @field_validator("excess_cover_days", "run_out_probability", "jit_max_stockouts", "ss_turnover_floor",
                     "holding_rate")
    @classmethod
    def _check_positive(cls, value: float, info: ValidationInfo) -> float:
        name = f"BLENDCAST_{str(info.field_name).upper()}"
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number. Got {value}. Fix: unset it for the default.")
        if info.field_name in ("run_out_probability", "holding_rate") and value >= 1:
            raise ValueError(f"{name} must be below 1 (a fraction). Got {value}. Fix: e.g. 0.25.")
        return value

    @field_validator("stockout_threshold")
    @classmethod
    def _check_stockout_threshold(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"BLENDCAST_STOCKOUT_THRESHOLD must be a probability in (0, 1), e.g. 0.001. "
                             f"Got {value}. Set BLENDCAST_INFER_STOCKOUTS=false to turn the inference off.")
        return value

    def stockout_inference(self) -> StockoutInference | None:
        """The stockout inference the data loaders apply, or None when it is off."""
        from features.stockouts import StockoutInference

        return StockoutInference(threshold=self.stockout_threshold) if self.infer_stockouts else None

    @field_validator("n_jobs")
    @classmethod
    def _check_n_jobs(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"BLENDCAST_N_JOBS must be >= 0 (0 = all cores). Got {value}.")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        """The result store URL, defaulting to ``sqlite:///$BLENDCAST_HOME/blendcast.db``."""
        return self.database_url or f"sqlite:///{self.home.expanduser() / 'blendcast.db'}"

    @cached_property
    def resolved_mlflow_uri(self) -> str:
        """The MLflow tracking/registry URI, defaulting to ``sqlite:///$BLENDCAST_HOME/mlflow.db``."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.expanduser() / 'mlflow.db'}"

    @cached_property
    def resolved_artifact_root(self) -> str:
        """MLflow's artifact root, defaulting to ``$BLENDCAST_HOME/mlartifacts``."""
        return self.mlflow_artifact_root or str(self.home.expanduser().resolve() / "mlartifacts")

    @field_validator("lock_stale_seconds")
    @classmethod
    def _check_stale(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"BLENDCAST_LOCK_STALE_SECONDS must be > 0 seconds. Got {value}.")
        return value

    def ensure_home(self) -> Path:
        """Create ``home`` if needed and return it."""
        home = self.home.expanduser()
        home.mkdir(parents=True, exist_ok=True)
        return home


@cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on the first call and shared afterwards.

    Entry points (the CLI commands, the API factory, the scheduler) call this once and hand the
    object down; library code takes a ``Settings`` argument instead of reading the environment.
    Tests that change ``BLENDCAST_*`` variables call ``get_settings.cache_clear()`` (the test suite's
    autouse fixture does) so the next call reads them again.
    """
    return Settings()
