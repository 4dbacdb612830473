"""The weekly job: load, validate, backtest, fit, segment and signals, forecasts and policies,
register in MLflow, decide champion / challenger, alert, publish atomically.

Never worse, never half: the served run changes only through the store's single publish transaction,
and the registry aliases move inside that transaction (just before its commit). A failure at any stage
restores the aliases and leaves the served run as it was; a store lock stops two trainings at once;
unchanged data and settings publish nothing new.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.dataset import Dataset
from features.health import health_report
from features.readers import load_dataset, load_dataset_sql
from forecasting.infrastructure.memory import map_large_blocks, release_freed_memory
from forecasting.infrastructure.settings import Settings
from forecasting.inventory.exceptions import ExceptionThresholds
from forecasting.inventory.ltd_feedback import service_metrics
from forecasting.persistence import ResultStore
from forecasting.persistence.locks import make_holder
from models.member_fits import prune_member_fits, shared_member_fits
from models.registry import make_model
from training.artifacts import write_artifacts
from training.faults import fault_point
from training.options import STAGES, TrainOptions
from training.reconcile import PIPELINE_RUN_KIND, reconcile
from training.registry import CHALLENGER, CHAMPION, PRIMARY_METRIC, Registry
from training.stages import (
    Outputs,
    backtest_stage,
    decide_stage,
    kpis_stage,
    plan_stage,
    register_stage,
)

log = logging.getLogger(__name__)

LOCK_NAME = "weekly-training"
# The lock's heartbeat while a training runs: at every stage and from a thread during long stages.
HEARTBEAT_SECONDS = 30.0
# Published runs whose forecasts stay in the store: eight weeks of history for realized-accuracy drift.
KEEP_RUNS = 8


class TrainingLockedError(RuntimeError):
    """Another training holds the lock."""


class LockLostError(RuntimeError):
    """The training lock was taken over (an operator's ``unlock --force``, or a heartbeat gap)."""


class InjectedFailure(RuntimeError):
    """A failure injected on purpose (``fail_at``), to prove a stage's failure changes nothing."""


@dataclass
class TrainResult:
    """What a training run did.

    Attributes:
        status: ``published``, ``not_promoted`` or ``unchanged``.
        run_id: The result-store run (None when unchanged).
        version: The registered model version (None when unchanged).
        reason: Why it was (not) promoted.
        metrics: Backtest metrics of the candidate.
        timings: Seconds per stage.
        n_alerts: Alerts stored.
    """

    status: str
    run_id: int | None = None
    version: int | None = None
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    n_alerts: int = 0


def dataset_hash(data: Dataset, spec: dict[str, Any]) -> str:
    """A fingerprint of the tables and the run settings: equal fingerprints publish nothing new."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode())
    for name in ("sales", "skus", "suppliers", "receipts", "events", "promotions", "inventory"):
        frame = getattr(data, name)
        digest.update(name.encode())
        if frame is not None:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class _Stages:
    """Runs each stage with a progress line and its timing, and injects failures on request."""

    def __init__(self, fail_at: str | None, report: Callable[[str], None]) -> None:
        self.fail_at = fail_at
        self.report = report
        self.timings: dict[str, float] = {}
        self.heartbeat: Callable[[], None] = lambda: None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        index = STAGES.index(name) + 1
        self.report(f"[{index}/{len(STAGES)}] {name} ...")
        self.heartbeat()
        fault_point(name)
        started = time.perf_counter()
        if self.fail_at == name:
            raise InjectedFailure(f"failure injected at stage '{name}'")
        yield
        # A stage's intermediate frames are freed by now: hand their pages back, so the next stage's
        # peak does not stack on them.
        release_freed_memory()
        self.timings[name] = time.perf_counter() - started
        self.report(f"[{index}/{len(STAGES)}] {name} done in {self.timings[name]:.1f} s")


def _load(options: TrainOptions, settings: Settings) -> Dataset:
    stockouts = settings.stockout_inference()
    if options.data_dir is not None:
        return load_dataset(Path(options.data_dir), stockouts=stockouts)
    assert options.database_url is not None
    return load_dataset_sql(options.database_url, stockouts=stockouts)


def run_training(
    settings: Settings,
    options: TrainOptions,
    *,
    report: Callable[[str], None] = log.info,
    after: Callable[[Dataset, TrainResult], None] | None = None,
) -> TrainResult:
    """Run the weekly job once.

    Args:
        settings: Runtime settings (stores, seed, threads, webhooks).
        options: What to train and publish.
        report: Receives one progress line per stage.
        after: Called with the data and the result once a run was published or refused (e.g. the
            drift report of the serving layer); its failure is logged, never raised.

    Returns:
        What happened.

    Raises:
        TrainingLockedError: Another training is running.
        DataValidationError: The input tables are bad (nothing is written).
        InjectedFailure: ``fail_at`` asked for it.
    """
    options.check()
    # Large arrays mapped on their own go back to the system when freed (at 10,000 series the job's
    # resident peak drops from 4.90 to 4.43 GB; see forecasting.infrastructure.memory).
    map_large_blocks()
    stages = _Stages(options.fail_at, report)
    with stages.stage("load"):
        data = _load(options, settings)  # bad input fails here, before the store or the registry is touched
        health = health_report(data)
    settings.ensure_home()
    store = ResultStore.from_settings(settings)
    store.upgrade()
    holder = make_holder(uuid.uuid4().hex[:8])
    if not store.acquire_lock(LOCK_NAME, holder, stale_after_s=settings.lock_stale_seconds):
        info = store.lock_info(LOCK_NAME)
        raise TrainingLockedError(
            f"Another training holds the lock {info.describe() if info else '(just released)'}. "
            "Fix: wait for it to finish; a holder that died on this host is taken over at once, one on "
            f"another host after {settings.lock_stale_seconds:.0f} s without heartbeat; if you know it is "
            "gone, run 'blendcast unlock --force'."
        )
    try:
        with _heartbeat(store, holder) as beat:
            stages.heartbeat = beat
            abandoned = store.fail_abandoned_runs(
                PIPELINE_RUN_KIND, "abandoned: the process running it died (found by the next training)"
            )
            if abandoned:
                report(f"Marked run(s) {', '.join(map(str, abandoned))} failed: their process died.")
            registry = Registry(settings.resolved_mlflow_uri, artifact_root=settings.resolved_artifact_root)
            reconcile(store, registry, fix=True, report=report)
            if options.engine == "dask":
                from training.dask_engine import dask_engine

                with dask_engine(options.dask_scheduler, options.dask_workers):
                    result = _run_locked(settings, options, store, registry, stages, data, health)
            else:
                result = _run_locked(settings, options, store, registry, stages, data, health)
    finally:
        store.release_lock(LOCK_NAME, holder)
    if after is not None and result.status != "unchanged":
        try:
            after(data, result)
        except Exception:  # a report is not worth failing a published run for
            log.exception("The after-training step failed; the run stays %s.", result.status)
    return result


@contextmanager
def _heartbeat(store: ResultStore, holder: str) -> Iterator[Callable[[], None]]:
    """Keep the lock alive from a thread while the block runs; yields the stage runner's beat.

    The beat refreshes the heartbeat at each stage and raises :class:`LockLostError` when the lock was
    taken over meanwhile, so a run that lost its lock never publishes.
    """
    stop = threading.Event()
    lost = threading.Event()

    def loop() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                if not store.heartbeat_lock(LOCK_NAME, holder):
                    lost.set()
                    return
            except Exception:  # a busy database: the next beat retries
                log.warning("Lock heartbeat failed; retrying in %.0f s", HEARTBEAT_SECONDS, exc_info=True)

    def beat() -> None:
        if lost.is_set() or not store.heartbeat_lock(LOCK_NAME, holder):
            raise LockLostError(
                "This training lost the store lock (it was broken with 'blendcast unlock --force' or taken "
                "over after a heartbeat gap); it stops without publishing. Fix: run it again."
            )

    thread = threading.Thread(target=loop, name="blendcast-lock-heartbeat", daemon=True)
    thread.start()
    try:
        yield beat
    finally:
        stop.set()
        thread.join()


def _run_locked(
    settings: Settings,
    options: TrainOptions,
    store: ResultStore,
    registry: Registry,
    stages: _Stages,
    data: Dataset,
    health: dict[str, Any],
) -> TrainResult:
    report = stages.report
    # On Dask the workers hold the cores; threads in this process would only contend with them.
    n_jobs = 1 if options.engine == "dask" else settings.n_jobs or (os.cpu_count() or 1)
    data_hash = dataset_hash(data, options.spec())
    latest = store.latest_run()
    if latest is not None and latest.data_hash == data_hash and not options.force:
        report(f"Data and settings unchanged since run {latest.id}: nothing new to publish.")
        return TrainResult(status="unchanged", run_id=latest.id, timings=stages.timings)

    source = {"data_dir": str(Path(options.data_dir).resolve())} if options.data_dir is not None else {}
    run_id = store.create_run(PIPELINE_RUN_KIND, {**options.spec(), "n_jobs": n_jobs, **source}, data_hash)
    snapshot = registry.aliases()
    try:
        # The last backtest fold's members are the final combination's holdout members: fit once.
        with shared_member_fits() as member_fits:
            with stages.stage("backtest"):
                scores = backtest_stage(data, options, registry, n_jobs, settings.seed)
            # Only the final fit's holdout origins are asked for again: free the older folds' members.
            template = make_model(options.model, **options.model_params)
            reach = template.holdout_reach or 0
            prune_member_fits(member_fits, data.end_date - pd.Timedelta(days=reach))
            with stages.stage("fit"):
                model = make_model(options.model, **_with_jobs(options, n_jobs, settings.seed)).fit(data)
        with stages.stage("plan"):
            outputs = plan_stage(data, model, options, store, settings.seed,
                                 ExceptionThresholds.from_settings(settings))
            outputs.operating_kpis = kpis_stage(data, outputs.policies, settings.holding_rate)
            # Target vs realized service of earlier plans per class (MLflow metrics and the run's).
            scores.metrics.update(service_metrics(outputs.ltd_service))
        with stages.stage("register"), tempfile.TemporaryDirectory() as tmp:
            artifacts = write_artifacts(Path(tmp), scores, model, health, outputs)
            version = register_stage(registry, model, options, data, data_hash, scores, artifacts, Path(tmp),
                                     outputs.forecasts, run_id)
        decision = decide_stage(registry, scores, options)
        with stages.stage("alerts"):
            n_alerts = _emit(store, settings, outputs.alerts(run_id, version.version, decision))
        with stages.stage("publish"):
            if decision.promote:
                stages.heartbeat()  # a run that lost its lock must not publish
                _publish(store, registry, run_id, version.version, outputs, scores.metrics, options)
                fault_point("publish:committed")
                status = "published"
            else:
                registry.set_aliases({CHALLENGER: version.version})
                store.fail_run(run_id, f"not promoted: {decision.reason}")
                status = "not_promoted"
    except BaseException as exc:
        try:
            registry.restore_aliases(snapshot)
        except Exception:  # the registry may be what failed; the next train reconciles the aliases
            log.exception("Could not restore the registry aliases after: %s", exc)
        try:
            store.fail_run(run_id, f"{type(exc).__name__}: {exc}")
        except ValueError:  # already published or failed: its status says enough
            log.warning("Run %d could not be marked failed after: %s", run_id, exc)
        raise
    if status == "published":  # after the commit: a failure here must not touch the aliases
        try:
            pruned = store.prune_runs(keep=KEEP_RUNS)
            if pruned:
                report(f"Pruned {pruned} forecast rows of runs older than the last {KEEP_RUNS}.")
        except Exception as exc:
            log.warning("Pruning old runs failed (the new run is published): %s", exc)
    report(
        f"Run {run_id}: model v{version.version} {status} ({decision.reason}); "
        f"{PRIMARY_METRIC} {scores.metrics.get(PRIMARY_METRIC, float('nan')):.4f}; {n_alerts} alerts."
    )
    return TrainResult(
        status=status,
        run_id=run_id,
        version=version.version,
        reason=decision.reason,
        metrics=scores.metrics,
        timings=stages.timings,
        n_alerts=n_alerts,
    )


def _with_jobs(options: TrainOptions, n_jobs: int, seed: int) -> dict[str, Any]:
    params = dict(options.model_params)
    model_cls = make_model(options.model, **params)
    names = model_cls.get_params(deep=False)
    if "n_jobs" in names and "n_jobs" not in params:
        params["n_jobs"] = n_jobs
    if "random_state" in names and "random_state" not in params:
        params["random_state"] = seed
    return params


def _publish(
    store: ResultStore,
    registry: Registry,
    run_id: int,
    version: int,
    outputs: Outputs,
    metrics: dict[str, float],
    options: TrainOptions,
) -> None:
    def move_aliases() -> None:
        # Inside the publish transaction, just before its commit: if this fails the run is not
        # published; if the commit fails the caller restores the aliases.
        if options.fail_at == "publish:kill":
            os.kill(os.getpid(), signal.SIGKILL)
        registry.set_aliases({CHAMPION: version, CHALLENGER: version})
        fault_point("publish:aliases-moved")

    store.publish_run(
        run_id,
        forecasts=outputs.forecasts,
        policies=outputs.policies,
        segments=outputs.segments,
        metrics={**metrics, "supplier_audit": outputs.supplier_audit,
                 "operating_kpis": outputs.operating_kpis},
        model_version=str(version),
        model_uri=f"models:/{registry.model_name}/{version}",
        horizon=options.horizon,
        quantiles=options.quantiles,
        before_commit=move_aliases,
    )


def _emit(store: ResultStore, settings: Settings, alerts: list[dict[str, Any]]) -> int:
    from forecasting.signals.alerts import emit_alerts

    return len(emit_alerts(store, alerts, settings))
