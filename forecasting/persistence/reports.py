"""Reads of the pages and reports: a run's series, the alert types, a run's drift report, raw forecast
rows and two runs' overlapping totals. The callers above never write SQL against the store's tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from forecasting.persistence import tables as t
from forecasting.persistence.base import StoreBase

KEY = ["sku", "channel"]


class ReportsMixin(StoreBase):
    """Read-only queries for the analyst pages, the drift report and realized accuracy."""

    def series_keys(self, run_id: int) -> pd.DataFrame:
        """``sku, channel`` of a run's series, sorted: from its policies, else its distinct forecast keys."""
        p, f = t.policies.c, t.forecasts.c
        with self._ready().connect() as conn:
            # One policy row per planned series: far fewer rows than the forecasts to make distinct.
            rows = [tuple(r) for r in conn.execute(sa.select(p.sku, p.channel).where(p.run_id == run_id))]
            if not rows:
                query = sa.select(f.sku, f.channel).where(f.run_id == run_id).distinct()
                rows = [tuple(r) for r in conn.execute(query)]
        frame = pd.DataFrame.from_records(rows, columns=KEY)
        return frame.sort_values(KEY).reset_index(drop=True)

    def alert_types(self) -> list[str]:
        """Every alert type stored, sorted."""
        with self._ready().connect() as conn:
            return sorted(str(v) for v in conn.execute(sa.select(t.alerts.c.type).distinct()).scalars())

    def drift_report_id(self, run_id: int) -> int | None:
        """Id of the newest drift report of ``run_id``; None if it has none."""
        d = t.drift_reports.c
        query = sa.select(d.id).where(d.run_id == run_id).order_by(d.id.desc()).limit(1)
        with self._ready().connect() as conn:
            found = conn.execute(query).scalar()
        return int(found) if found is not None else None

    def forecast_rows(self, run_id: int, *, until: pd.Timestamp | None = None,
                      with_quantiles: bool = True) -> list[tuple[Any, ...]]:
        """A run's forecast rows ``(sku, channel, date text, mean[, quantiles JSON text])``.

        Reads through the DB-API cursor: building SQLAlchemy rows costs more than the query for the
        hundreds of thousands of rows a large run has, and the drift report reads several runs.
        """
        f = t.forecasts.c
        cols: list[Any] = [f.sku, f.channel, sa.cast(f.date, sa.String), f.mean]
        if with_quantiles:
            cols.append(sa.cast(f.quantiles, sa.Text))
        query = sa.select(*cols).where(f.run_id == int(run_id))
        if until is not None:
            query = query.where(f.date <= pd.Timestamp(until).date())
        engine = self._ready()
        # Only ints and dates made here are inlined, never user text.
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            cursor = raw.cursor()
            try:
                cursor.execute(sql)
                return list(cursor.fetchall())
            finally:
                cursor.close()

    def overlap_totals(self, previous_id: int, current_id: int) -> pd.DataFrame:
        """Per-series forecast totals of two runs over the days both cover, summed in SQL.

        Returns:
            ``sku, channel, run_id, total, n_days``; empty if the runs share no day.
        """
        f = t.forecasts.c
        both = f.run_id.in_([previous_id, current_id])
        empty = pd.DataFrame(columns=[*KEY, "run_id", "total", "n_days"])
        with self._ready().connect() as conn:
            spans = conn.execute(sa.select(f.run_id, sa.func.min(f.date), sa.func.max(f.date)).where(both)
                                 .group_by(f.run_id)).all()
            if len(spans) < 2:
                return empty
            lo = max(pd.Timestamp(s[1]) for s in spans)
            hi = min(pd.Timestamp(s[2]) for s in spans)
            if lo > hi:
                return empty
            query = (sa.select(f.sku, f.channel, f.run_id, sa.func.sum(f.mean), sa.func.count())
                     .where(both, f.date >= lo.date(), f.date <= hi.date())
                     .group_by(f.sku, f.channel, f.run_id))
            rows = [tuple(r) for r in conn.execute(query).all()]
        return pd.DataFrame.from_records(rows, columns=empty.columns)
