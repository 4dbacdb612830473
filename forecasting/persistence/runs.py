"""Runs and their results: all-or-nothing publication and reads of the served run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from features.schema import SERIES_KEY, quantile_column
from forecasting.persistence import tables as t
from forecasting.persistence.base import StoreBase
from forecasting.persistence.frames import (
    POLICY_COLUMNS,
    SEGMENT_COLUMNS,
    expand_json,
    parse_quantile_json,
    policy_rows,
    quantile_json_rows,
    segment_rows,
    to_jsonable,
    validate_forecast_frame,
)
from forecasting.persistence.queries import fetch_forecast_rows
from forecasting.persistence.records import NotFoundError, RunInfo
from models.base import check_horizon, check_quantiles

log = logging.getLogger(__name__)


def _run_info(row: sa.Row[Any]) -> RunInfo:
    m = row._mapping
    return RunInfo(
        id=m["id"],
        created_at=m["created_at"],
        published_at=m["published_at"],
        model_version=m["model_version"],
        model_uri=m["model_uri"],
        horizon=m["horizon"],
        quantiles=tuple(float(q) for q in (m["quantiles"] or ())),
        metrics=m["metrics"] or {},
        params=m["params"] or {},
        data_hash=m["data_hash"] or "",
        status=m["status"],
        kind=m["kind"],
        notes=m["notes"],
    )


class RunsMixin(StoreBase):
    """Runs, forecasts, policies and segments."""

    def create_run(self, kind: str, params: dict[str, Any], data_hash: str = "") -> int:
        """Record a new run in status ``running``; its results stay invisible until published.

        Args:
            kind: What the run does, e.g. ``"train"`` or ``"forecast"``.
            params: Parameters of the run (JSON-serialisable after numpy/NaN conversion).
            data_hash: Fingerprint of the input data.

        Returns:
            The run id.
        """
        if not kind:
            raise ValueError("The run 'kind' must be a non-empty name, e.g. 'train'. Got ''.")
        with self._ready().begin() as conn:
            run_id = conn.execute(
                sa.insert(t.runs).returning(t.runs.c.id),
                {
                    "created_at": t.utcnow(),
                    "status": "running",
                    "kind": kind,
                    "params": to_jsonable(dict(params)),
                    "data_hash": data_hash,
                },
            ).scalar_one()
        return int(run_id)

    def _running_run(self, conn: sa.Connection, run_id: int) -> None:
        status = conn.execute(sa.select(t.runs.c.status).where(t.runs.c.id == run_id)).scalar()
        if status is None:
            raise NotFoundError(f"Run {run_id} does not exist. Fix: use the id returned by create_run.")
        if status != "running":
            raise ValueError(
                f"Run {run_id} is '{status}', expected 'running'. A run is published or failed once; "
                "create a new run with create_run."
            )

    def publish_run(
        self,
        run_id: int,
        *,
        forecasts: pd.DataFrame,
        policies: pd.DataFrame | None = None,
        segments: pd.DataFrame | None = None,
        metrics: dict[str, Any] | None = None,
        model_version: str | None = None,
        model_uri: str | None = None,
        horizon: int,
        quantiles: Sequence[float],
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        """Store a run's results and make it the served run, all in one transaction.

        Every frame is checked before anything is written. Readers keep seeing the previous published
        run until the commit; if anything fails (an exception, a killed process) the transaction rolls
        back and the previous run stays served. After a write failure the run is marked ``failed``.

        Args:
            run_id: A run in status ``running``.
            forecasts: The canonical forecast frame (``sku, channel, date, mean``, one column per
                quantile, optional ``model``).
            policies: One row per series: ``sku, channel, policy`` and any of the ``policies`` table
                columns; other columns are kept in ``extra``.
            segments: One row per series: ``sku, channel`` and any of ``as_of, abc, xyz, pattern,
                policy``; other columns are kept in ``figures``. ``as_of`` defaults to today (UTC).
            metrics: Run metrics (e.g. backtest scores).
            model_version: Registry version of the model.
            model_uri: MLflow URI of the model.
            horizon: Days forecast ahead.
            quantiles: Levels of the forecast's quantile columns.
            before_commit: Called inside the transaction just before it commits (the pipeline moves
                the registry aliases there); if it raises, nothing is published.

        Raises:
            ValueError: If a frame is malformed (nothing is written) or the run is not ``running``.
            NotFoundError: If the run does not exist.
        """
        horizon = check_horizon(horizon)
        qs = check_quantiles(quantiles)
        started = time.perf_counter()
        frame = validate_forecast_frame(forecasts, qs, horizon)
        qcols = [quantile_column(q) for q in qs]
        now = t.utcnow()
        policy_list = policy_rows(policies, run_id) if policies is not None else []
        segment_list = segment_rows(segments, run_id, now.date()) if segments is not None else []
        rows = list(
            zip(
                [run_id] * len(frame),
                frame["sku"].tolist(),
                frame["channel"].tolist(),
                frame["date"].dt.strftime("%Y-%m-%d").tolist(),
                frame["mean"].tolist(),
                quantile_json_rows(frame[qcols].to_numpy()),
                frame["model"].tolist(),
                strict=True,
            )
        )
        log.info("Run %d: %d forecast rows ready (%.1fs)", run_id, len(rows), time.perf_counter() - started)
        columns = ["run_id", "sku", "channel", "date", "mean", "quantiles", "model"]
        try:
            with self._ready().begin() as conn:
                self._running_run(conn, run_id)
                self._bulk_insert(conn, t.forecasts, columns, rows)
                log.info("Run %d: forecasts written (%.1f s)", run_id, time.perf_counter() - started)
                if policy_list:
                    conn.execute(sa.insert(t.policies), policy_list)
                if segment_list:
                    conn.execute(sa.insert(t.segments), segment_list)
                conn.execute(
                    sa.update(t.runs)
                    .where(t.runs.c.id == run_id)
                    .values(
                        status="published",
                        published_at=t.utcnow(),
                        horizon=horizon,
                        quantiles=list(qs),
                        metrics=to_jsonable(metrics or {}),
                        model_version=model_version,
                        model_uri=model_uri,
                    )
                )
                if before_commit is not None:
                    before_commit()
        except (ValueError, NotFoundError):
            raise  # the run was not publishable: nothing was written, its status stays as it was
        except Exception as exc:
            self._mark_failed(run_id, f"publish failed: {exc}")
            raise
        log.info("Run %d published in %.1f s", run_id, time.perf_counter() - started)
        self._refresh_statistics()

    def _refresh_statistics(self) -> None:
        """Refresh PostgreSQL's planner statistics after a publish.

        A run adds as many rows as the table held before; until autovacuum catches up, the stale
        estimate makes the planner hash the whole run instead of probing the keys asked for.
        """
        if self.engine.dialect.name != "postgresql":
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE forecasts, policies, segments"))
        except sa.exc.SQLAlchemyError:  # statistics are an optimisation; the run is published
            log.warning("Could not ANALYZE the result tables", exc_info=True)

    def _mark_failed(self, run_id: int, error: str) -> None:
        try:
            self.fail_run(run_id, error)
        except Exception:  # the database itself may be what failed; the original error matters more
            log.exception("Could not mark run %d as failed", run_id)

    def fail_run(self, run_id: int, error: str) -> None:
        """Mark a ``running`` run ``failed`` and keep ``error`` in its notes; the served run is unchanged.

        Raises:
            NotFoundError: If the run does not exist.
            ValueError: If the run is already published.
        """
        with self._ready().begin() as conn:
            status = conn.execute(sa.select(t.runs.c.status).where(t.runs.c.id == run_id)).scalar()
            if status is None:
                raise NotFoundError(f"Run {run_id} does not exist. Fix: use the id returned by create_run.")
            if status == "published":
                raise ValueError(f"Run {run_id} is published and cannot be marked failed.")
            conn.execute(
                sa.update(t.runs).where(t.runs.c.id == run_id).values(status="failed", notes=error[:10_000])
            )

    def has_forecasts(self, run_id: int) -> bool:
        """Whether the run's forecasts are stored (not pruned, not a failed run)."""
        with self._ready().connect() as conn:
            found = conn.execute(
                sa.select(t.forecasts.c.run_id).where(t.forecasts.c.run_id == run_id).limit(1)
            ).first()
        return found is not None

    def fail_abandoned_runs(self, kind: str, note: str) -> list[int]:
        """Mark every ``running`` run of ``kind`` failed: the caller knows no live process owns them.

        The weekly pipeline calls it once it holds the training lock: a run of its kind still
        ``running`` then belongs to a process that died (killed, host lost).

        Returns:
            The ids of the runs marked failed.
        """
        r = t.runs.c
        with self._ready().begin() as conn:
            ids = [row.id for row in conn.execute(
                sa.select(r.id).where(r.status == "running", r.kind == kind).order_by(r.id)
            )]
            if ids:
                conn.execute(sa.update(t.runs).where(r.id.in_(ids), r.status == "running")
                             .values(status="failed", notes=note[:10_000]))
        return ids

    def detach_model_versions(self, note: str) -> list[int]:
        """Forget the registry versions of every run (the registry they name was lost).

        ``model_version`` becomes NULL and ``model_uri`` is kept behind a ``lost-registry:`` prefix, so
        a new registry's ``models:/.../1`` never collides with an old run's URI.

        Returns:
            The ids of the runs changed.
        """
        r = t.runs.c
        with self._ready().begin() as conn:
            query = sa.select(r.id, r.model_uri, r.notes).where(r.model_version.is_not(None))
            rows = conn.execute(query).all()
            for row in rows:
                uri = f"lost-registry:{row.model_uri}" if row.model_uri else None
                notes = "; ".join(n for n in (row.notes, note) if n)[:10_000]
                conn.execute(sa.update(t.runs).where(r.id == row.id)
                             .values(model_version=None, model_uri=uri, notes=notes))
        return [row.id for row in rows]

    def republish_run(self, run_id: int, before_commit: Callable[[], None] | None = None) -> None:
        """Serve an earlier published run again (a manual promote or rollback of its model).

        Args:
            run_id: A published run whose forecasts are still stored.
            before_commit: Called inside the transaction just before it commits (the registry's
                champion alias moves there); if it raises, nothing changes.

        Raises:
            NotFoundError: If the run does not exist.
            ValueError: If it was never published.
        """
        with self._ready().begin() as conn:
            row = conn.execute(sa.select(t.runs.c.status).where(t.runs.c.id == run_id)).first()
            if row is None:
                raise NotFoundError(f"Run {run_id} does not exist. Fix: list the runs with list_runs().")
            if row.status != "published":
                raise ValueError(f"Run {run_id} is {row.status}, not published: it has nothing to serve.")
            kept = conn.execute(
                sa.select(t.forecasts.c.run_id).where(t.forecasts.c.run_id == run_id).limit(1)
            )
            if kept.first() is None:
                raise ValueError(
                    f"Run {run_id}'s forecasts were pruned, so it cannot be served again. "
                    "Fix: retrain, or pick a newer run from list_runs()."
                )
            conn.execute(sa.update(t.runs).where(t.runs.c.id == run_id).values(published_at=t.utcnow()))
            if before_commit is not None:
                before_commit()

    def prune_runs(self, keep: int = 8) -> int:
        """Delete the forecasts and policies of all but the newest ``keep`` published runs.

        A weekly run of 30,000 series adds about 840,000 forecast rows, so old runs are dropped to
        bound the database. The served run is always among those kept; run records, segments
        (for ``segment_history``), alerts and drift reports are kept. Failed runs hold no rows.

        Args:
            keep: Published runs whose results are kept, newest first by publication; >= 1.

        Returns:
            The number of forecast rows deleted.
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"The 'keep' of prune_runs must be a whole number >= 1. Got {keep!r}.")
        r = t.runs.c
        newest = (
            sa.select(r.id)
            .where(r.status == "published")
            .order_by(r.published_at.desc(), r.id.desc())
            .limit(keep)
        )
        with self._ready().begin() as conn:
            kept = [row.id for row in conn.execute(newest)]
            deleted = conn.execute(sa.delete(t.forecasts).where(t.forecasts.c.run_id.not_in(kept))).rowcount
            conn.execute(sa.delete(t.policies).where(t.policies.c.run_id.not_in(kept)))
        log.info("Pruned %d forecast rows; kept the results of runs %s", deleted, kept)
        return int(deleted)

    def latest_run(self) -> RunInfo | None:
        """The served run: the most recently published one, or None before the first publication."""
        query = (
            sa.select(t.runs)
            .where(t.runs.c.status == "published")
            .order_by(t.runs.c.published_at.desc(), t.runs.c.id.desc())
            .limit(1)
        )
        with self._ready().connect() as conn:
            row = conn.execute(query).first()
        return _run_info(row) if row is not None else None

    def get_run(self, run_id: int) -> RunInfo:
        """The run ``run_id`` in any status.

        Raises:
            NotFoundError: If it does not exist.
        """
        with self._ready().connect() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"Run {run_id} does not exist. Fix: list the runs with list_runs().")
        return _run_info(row)

    def list_runs(self, limit: int = 20) -> list[RunInfo]:
        """The newest ``limit`` runs in any status, newest first."""
        if limit < 1:
            raise ValueError(f"The 'limit' must be >= 1. Got {limit}.")
        with self._ready().connect() as conn:
            rows = conn.execute(sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)).all()
        return [_run_info(r) for r in rows]

    def _resolve_run(self, run_id: int | None) -> RunInfo:
        if run_id is not None:
            return self.get_run(run_id)
        run = self.latest_run()
        if run is None:
            raise NotFoundError("No run has been published yet. Fix: run `blendcast train` first.")
        return run

    def get_forecasts(
        self, run_id: int | None = None, keys: Sequence[tuple[str, str]] | None = None
    ) -> pd.DataFrame:
        """A run's forecasts as the canonical frame, exactly as published.

        Args:
            run_id: The run; None reads the served (latest published) run.
            keys: Only these ``(sku, channel)`` series; None reads all. Unknown keys are absent.

        Returns:
            Columns ``sku, channel, date, mean``, one per quantile (``"0.005"``...), ``model``; sorted by
            ``sku, channel, date``.

        Raises:
            NotFoundError: If the run does not exist or nothing is published yet.
        """
        run = self._resolve_run(run_id)
        qcols = [quantile_column(q) for q in run.quantiles]
        with self._ready().connect() as conn:
            raw = fetch_forecast_rows(conn, run.id, keys)
        got = pd.DataFrame.from_records(raw, columns=["sku", "channel", "date", "mean", "q", "model"])
        out = pd.DataFrame(
            {
                "sku": got["sku"].astype(object),
                "channel": got["channel"].astype(object),
                "date": pd.to_datetime(got["date"], format="%Y-%m-%d").astype("datetime64[ns]"),
                "mean": got["mean"].astype(float),
            }
        )
        values = parse_quantile_json(got["q"].tolist(), len(qcols))
        for i, col in enumerate(qcols):
            out[col] = values[:, i]
        out["model"] = got["model"].astype(object)
        return out.sort_values([*SERIES_KEY, "date"], kind="stable").reset_index(drop=True)

    def get_policies(self, run_id: int | None = None) -> pd.DataFrame:
        """A run's replenishment policies, one row per series (extra figures as their own columns).

        Args:
            run_id: The run; None reads the served run.

        Raises:
            NotFoundError: If the run does not exist or nothing is published yet.
        """
        run = self._resolve_run(run_id)
        p = t.policies.c
        cols = [p.sku, p.channel, *(p[c] for c in POLICY_COLUMNS), p.reasons, p.extra]
        with self._ready().connect() as conn:
            rows = conn.execute(sa.select(*cols).where(p.run_id == run.id)).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in cols])
        for col in POLICY_COLUMNS[4:]:
            frame[col] = frame[col].astype(float)
        frame = expand_json(frame, "extra")
        return frame.sort_values(list(SERIES_KEY), kind="stable").reset_index(drop=True)

    def get_policy(self, run_id: int, sku: str, channel: str) -> dict[str, Any] | None:
        """One series' policy row (its extra figures and reasons included), or None if it has none.

        Raises:
            NotFoundError: If the run does not exist.
        """
        run = self._resolve_run(run_id)
        p = t.policies.c
        cols = [*(p[c] for c in POLICY_COLUMNS), p.reasons, p.extra]
        query = sa.select(*cols).where(p.run_id == run.id, p.sku == sku, p.channel == channel)
        with self._ready().connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        out: dict[str, Any] = dict(zip([c.name for c in cols], row, strict=True))
        extra = out.pop("extra")
        for key, value in (extra or {}).items():
            out.setdefault(str(key), value)
        return out

    def get_segments(self, run_id: int | None = None) -> pd.DataFrame:
        """A run's segmentation, one row per series (figures as their own columns).

        Args:
            run_id: The run; None reads the served run.

        Raises:
            NotFoundError: If the run does not exist or nothing is published yet.
        """
        run = self._resolve_run(run_id)
        s = t.segments.c
        return self._segments_frame(sa.select(s.run_id).where(s.run_id == run.id)).drop(
            columns=["run_id", "published_at"]
        )

    def segment_history(self, sku: str, channel: str | None = None) -> pd.DataFrame:
        """How a SKU's segment changed across published runs, oldest first.

        Args:
            sku: The SKU.
            channel: One channel; None returns every channel of the SKU.

        Returns:
            Columns ``run_id, published_at, sku, channel, as_of, abc, xyz, pattern, policy`` and the
            figures; empty if the SKU was never segmented.
        """
        s = t.segments.c
        query = sa.select(s.run_id).where(s.sku == sku)
        if channel is not None:
            query = query.where(s.channel == channel)
        return self._segments_frame(query)

    def _segments_frame(self, base: sa.Select[Any]) -> pd.DataFrame:
        s = t.segments.c
        cols = [
            s.run_id,
            t.runs.c.published_at,
            s.sku,
            s.channel,
            *(s[c] for c in SEGMENT_COLUMNS),
            s.figures,
        ]
        query = (
            base.with_only_columns(*cols)
            .join_from(t.segments, t.runs, t.runs.c.id == s.run_id)
            .where(t.runs.c.status == "published")
        )
        with self._ready().connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in cols])
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
        frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
        frame = expand_json(frame, "figures")
        return frame.sort_values(["as_of", "run_id", *SERIES_KEY], kind="stable").reset_index(drop=True)
