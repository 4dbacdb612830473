"""Manual promote and rollback: the champion alias and the served run change together.

Like the pipeline's publish, the alias moves inside the result store's transaction that serves the
version's run again, just before it commits: a failure restores the aliases and serves what was served;
a kill between the alias move and the commit leaves the alias ahead of the store, which
:func:`training.reconcile.reconcile` puts back at the start of the next ``blendcast train`` (or
``blendcast doctor --fix``). Both hold the training lock, so they never interleave with a publish.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from forecasting.persistence.locks import make_holder
from forecasting.persistence.records import RunInfo
from training.faults import fault_point
from training.registry import CHAMPION, Registry, RegistryError, VersionInfo

LOCK_NAME = "weekly-training"


class PromotionLockedError(RuntimeError):
    """A training (or another promote / rollback) holds the lock."""


def published_run_of(store: ResultStore, version: int) -> RunInfo | None:
    """The newest published run made with ``version`` whose forecasts are still stored, or None."""
    for run in store.list_runs(limit=500):
        if run.model_version == str(version) and run.status == "published" and store.has_forecasts(run.id):
            return run
    return None


def _no_run(version: int) -> RegistryError:
    return RegistryError(
        f"Model v{version} has no published run with forecasts in the result store (it was not promoted "
        "by its training, or its run was pruned), so it cannot be served: the champion must be the "
        "version whose forecasts the API serves. Fix: pick a version listed by 'blendcast models' with a "
        "published run, or retrain with 'blendcast train --force'."
    )


def _switch(settings: Settings, version_of: Callable[[Registry], tuple[int, Callable[[], None]]],
            point: str) -> tuple[int, int]:
    """Serve the run of the version chosen by ``version_of`` and move the alias before the commit."""
    registry = Registry(settings.resolved_mlflow_uri)
    version_of(registry)  # bad input (unknown version, nothing to roll back to) fails before the store
    store = ResultStore.from_settings(settings)
    store.upgrade()
    holder = make_holder(f"{point}-{uuid.uuid4().hex[:8]}")
    if not store.acquire_lock(LOCK_NAME, holder, stale_after_s=settings.lock_stale_seconds):
        info = store.lock_info(LOCK_NAME)
        raise PromotionLockedError(
            f"A training holds the lock ({info.describe() if info else 'just released'}). "
            "Fix: wait for it to finish and try again."
        )
    try:
        version, move_alias = version_of(registry)
        run = published_run_of(store, version)
        if run is None:
            raise _no_run(version)
        snapshot = registry.aliases()

        def before_commit() -> None:
            move_alias()
            fault_point(f"{point}:aliases-moved")

        try:
            store.republish_run(run.id, before_commit=before_commit)
        except BaseException:
            registry.restore_aliases(snapshot)
            raise
        return version, run.id
    finally:
        store.release_lock(LOCK_NAME, holder)


def promote(settings: Settings, version: int) -> tuple[VersionInfo, int]:
    """Make ``version`` the champion and serve its published run again.

    Returns:
        The version and the run now served.

    Raises:
        RegistryError: Unknown version, or no published run of it (bad input).
        PromotionLockedError: A training runs.
    """

    def choose(registry: Registry) -> tuple[int, Callable[[], None]]:
        registry.get(version)  # a clear error for an unknown version
        return version, lambda: registry.set_aliases({CHAMPION: version})

    _, run_id = _switch(settings, choose, "promote")
    return Registry(settings.resolved_mlflow_uri).get(version), run_id


def rollback(settings: Settings) -> tuple[VersionInfo, int]:
    """Give the champion back to the version promoted before it and serve that version's run again.

    Returns:
        The version now champion and the run now served.

    Raises:
        RegistryError: Nothing to roll back to, or no published run of that version.
        PromotionLockedError: A training runs.
    """

    def choose(registry: Registry) -> tuple[int, Callable[[], None]]:
        current, target = registry.rollback_target()
        return target.version, lambda: registry.apply_rollback(current, target)

    version, run_id = _switch(settings, choose, "rollback")
    return Registry(settings.resolved_mlflow_uri).get(version), run_id
