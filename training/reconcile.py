"""Make the registry agree with the result store after a crash (and tell an operator what was wrong).

The result store decides what is served: its latest published run. The registry's ``champion`` alias
must name that run's model version. A process killed between the alias move and the store's commit
(or in the middle of a promote / rollback) leaves them apart; :func:`reconcile` puts the alias back on
the served version. It runs at the start of every ``blendcast train`` (holding the training lock) and
in ``blendcast doctor`` (report, and repair with ``--fix``).

It also finds a lost or replaced registry (the MLflow database deleted: the version a published run
names is gone, or now belongs to another run): new versions would restart at v1 and collide with the
published runs' model URIs, so training refuses until an operator restores the database or accepts
the loss with ``blendcast doctor --fix``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forecasting.persistence import ResultStore
from forecasting.persistence.records import RunInfo
from training.registry import CHAMPION, STORE_RUN_TAG, Registry, RegistryError

PIPELINE_RUN_KIND = "weekly"


class RegistryLostError(RuntimeError):
    """The registry no longer holds the versions the result store's runs name."""


@dataclass
class Finding:
    """One disagreement found, and whether it was repaired.

    Attributes:
        problem: What is wrong.
        fix: What repairs it (done when ``fixed``).
        fixed: Whether it was repaired.
    """

    problem: str
    fix: str
    fixed: bool = False


def registry_lost(store: ResultStore, registry: Registry, served: RunInfo | None = None) -> str | None:
    """Why the registry cannot be the one the store's served run was registered in (None: it is)."""
    served = served if served is not None else store.latest_run()
    if served is None or not served.model_version:
        return None
    try:
        info = registry.get(int(served.model_version))
    except RegistryError:
        return (f"the served run {served.id} was published with model v{served.model_version} "
                f"({served.model_uri}), which the MLflow registry at {registry.tracking_uri} does not hold: "
                "its database was lost or replaced")
    # A republished run (promote / rollback) is the very run that registered its version.
    owner = info.tags.get(STORE_RUN_TAG)
    if owner is not None and owner != str(served.id):
        return (f"model v{served.model_version} of the MLflow registry at {registry.tracking_uri} was "
                f"registered by run {owner}, but the served run {served.id} names it: the registry was "
                "replaced and restarted its numbering")
    return None


LOST_FIX = (
    "restore the MLflow database (BLENDCAST_MLFLOW_TRACKING_URI) from a backup; or, to start a new "
    "registry on purpose, run 'blendcast doctor --fix' (the store's runs keep their forecasts, their "
    "model URIs are marked 'lost-registry:') and train again"
)


def reconcile(
    store: ResultStore,
    registry: Registry,
    *,
    fix: bool,
    accept_lost_registry: bool = False,
    report: Callable[[str], None] = lambda _line: None,
) -> list[Finding]:
    """Compare the champion alias with the served run, and repair it when ``fix``.

    Call it only when no training is publishing (holding the training lock, or after checking it).

    Args:
        store: The result store (the source of truth for what is served).
        registry: The MLflow registry.
        fix: Move the alias back onto the served version.
        accept_lost_registry: With ``fix``, detach the store's runs from a lost registry.
        report: Receives one line per repair.

    Returns:
        The disagreements found.

    Raises:
        RegistryLostError: The registry was lost and ``accept_lost_registry`` is not set with ``fix``.
    """
    findings: list[Finding] = []
    served = store.latest_run()
    lost = registry_lost(store, registry, served)
    if lost is not None:
        finding = Finding(f"Registry lost: {lost}.", LOST_FIX)
        if not (fix and accept_lost_registry):
            if fix:
                raise RegistryLostError(f"The MLflow registry does not match the result store: {lost}. "
                                        f"Fix: {LOST_FIX}.")
            return [finding]
        ids = store.detach_model_versions(f"its model was in an MLflow registry that was lost ({lost})")
        finding.fixed = True
        report(f"Detached {len(ids)} run(s) from the lost registry; the next training registers v1 afresh.")
        findings.append(finding)
        served = store.latest_run()
    champion = registry.aliases().get(CHAMPION)
    want = int(served.model_version) if served is not None and served.model_version else None
    if champion == want:
        return findings
    if want is None:
        finding = Finding(f"The champion alias names v{champion}, but the store serves no registered model "
                          "(a publish was interrupted before its first commit).", "remove the champion alias")
        if fix:
            registry.delete_alias(CHAMPION)
            finding.fixed = True
    else:
        assert served is not None
        finding = Finding(
            f"The champion alias names {'v' + str(champion) if champion else 'no version'}, but the store "
            f"serves run {served.id} of model v{want} (a publish, promote or rollback was interrupted).",
            f"point the champion alias at v{want}",
        )
        if fix:
            registry.set_aliases({CHAMPION: want})
            finding.fixed = True
    if finding.fixed:
        report(f"Repaired: {finding.problem} Done: {finding.fix}.")
    findings.append(finding)
    return findings
