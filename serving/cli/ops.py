"""Operator commands after a crash: ``unlock`` (the training lock) and ``doctor`` (store vs registry)."""

from __future__ import annotations

from typing import Annotated

import typer

from serving.cli.common import EXIT_LOCKED, EXIT_UNHEALTHY, console, fail, store_fault_exits


def register(app: typer.Typer) -> None:
    """Add the operator commands to ``app``."""
    app.command("unlock")(unlock)
    app.command("doctor")(doctor)


def unlock(
    force: Annotated[bool, typer.Option("--force", help="Remove the lock even if its holder may be alive.")]
    = False,
) -> None:
    """Release the training lock left by a crashed training (its runs still 'running' are marked failed).

    Without --force only a lock whose holder is dead (same host) or silent for longer than
    BLENDCAST_LOCK_STALE_SECONDS is removed; a live training's lock needs --force (that training then
    stops before publishing).
    """
    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import ResultStore
    from training.pipeline import LOCK_NAME
    from training.reconcile import PIPELINE_RUN_KIND

    settings = get_settings()
    with store_fault_exits():
        store = ResultStore.from_settings(settings)
        store.upgrade()
        info = store.lock_info(LOCK_NAME)
        if info is None:
            console.print("The training lock is free: nothing to do.")
            return
        gone = info.alive is False or (info.alive is None and info.age_s() > settings.lock_stale_seconds)
        if not (gone or force):
            raise fail(
                f"The lock {info.describe()}: that training may still run. Fix: wait for it, or pass "
                "--force if you know it is gone (a training that loses its lock stops before publishing).",
                code=EXIT_LOCKED,
            )
        store.break_lock(LOCK_NAME)
        failed = store.fail_abandoned_runs(PIPELINE_RUN_KIND, "abandoned: its training lock was removed by "
                                           "'blendcast unlock'") if gone or force else []
    console.print(f"Removed the lock {info.describe()}.")
    if failed:
        console.print(f"Marked run(s) {', '.join(map(str, failed))} failed.")


def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is found.")] = False,
) -> None:
    """Check that the store, the training lock and the MLflow registry agree; repair them with --fix.

    Finds a lock left by a dead training, runs left 'running', a champion alias that is not the version
    the store serves, and a lost MLflow registry. Exit code 0 when healthy (or all repaired), 5 when
    problems remain.
    """
    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import ResultStore
    from training.pipeline import LOCK_NAME
    from training.reconcile import PIPELINE_RUN_KIND, Finding, reconcile
    from training.registry import Registry

    settings = get_settings()
    findings: list[Finding] = []
    with store_fault_exits():
        store = ResultStore.from_settings(settings)
        store.upgrade()
        info = store.lock_info(LOCK_NAME)
        busy = info is not None and (info.alive is True or (info.alive is None
                                                            and info.age_s() <= settings.lock_stale_seconds))
        if busy:
            assert info is not None
            console.print(f"A training is running ({info.describe()}): the registry is checked after it.")
        else:
            if info is not None:
                finding = Finding(f"The lock {info.describe()} belongs to a training that is gone.",
                                  "remove the lock")
                if fix:
                    store.break_lock(LOCK_NAME)
                    finding.fixed = True
                findings.append(finding)
            stuck = [r.id for r in store.list_runs(limit=500) if r.status == "running" and r.kind ==
                     PIPELINE_RUN_KIND]
            if stuck:
                finding = Finding(f"Run(s) {', '.join(map(str, stuck))} are 'running' but no training runs.",
                                  "mark them failed")
                if fix:
                    store.fail_abandoned_runs(PIPELINE_RUN_KIND, "abandoned: found by 'blendcast doctor'")
                    finding.fixed = True
                findings.append(finding)
            registry = Registry(settings.resolved_mlflow_uri)
            findings += reconcile(store, registry, fix=fix, accept_lost_registry=fix)
        served = store.latest_run()
    console.print(f"Served run: {served.id} (model v{served.model_version})" if served else
                  "Served run: none published yet")
    for finding in findings:
        mark = "[green]repaired[/]" if finding.fixed else "[red]problem[/]"
        console.print(f"{mark}: {finding.problem} Fix: {finding.fix}.", highlight=False)
    open_problems = [f for f in findings if not f.fixed]
    if open_problems:
        raise fail(f"{len(open_problems)} problem(s) found. Run 'blendcast doctor --fix' to repair them.",
                   code=EXIT_UNHEALTHY)
    if not findings:
        console.print("Healthy: the lock, the runs and the champion alias agree with the store.")
