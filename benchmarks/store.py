"""Result store benchmark: publishing and reading one full run on SQLite and PostgreSQL.

Publishes ``--series`` series x ``--horizon`` days x the nine M5 quantiles (default 30,000 x 28 =
840,000 forecast rows) plus one policy and one segment row per series, in one transaction, then
reads the run back: the served-run lookup, 1,000 series by key, and the whole run. Prints one row
per backend with the wall times and checks that the read-back frame equals the published one.

    .venv/bin/python benchmarks/store.py [--series 30000] [--horizon 28] [--postgres-url URL | --no-postgres]

PostgreSQL runs in a throw-away schema of the given database, dropped at the end.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from features.schema import M5_QUANTILES, quantile_column
from forecasting.persistence import ResultStore
from models.base import finalize_forecast

log = logging.getLogger("benchmarks.store")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
N_READ_KEYS = 1_000


def make_results(
    n_series: int, horizon: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A forecast, policy and segment frame for ``n_series`` series (10 channels)."""
    rng = np.random.default_rng(seed)
    n_channels = 10
    skus = np.array([f"SKU_{i:06d}" for i in range(-(-n_series // n_channels))])
    channels = np.array([f"CH_{j:02d}" for j in range(n_channels)])
    keys = pd.DataFrame({"sku": np.repeat(skus, n_channels), "channel": np.tile(channels, len(skus))}).head(
        n_series
    )
    dates = pd.date_range("2026-11-24", periods=horizon, freq="D")
    frame = keys.loc[keys.index.repeat(horizon)].reset_index(drop=True)
    frame["date"] = np.tile(dates.to_numpy(), n_series)
    level = rng.gamma(1.5, 4.0, n_series).repeat(horizon)
    frame["mean"] = level
    z = np.sort(rng.normal(size=(len(frame), len(M5_QUANTILES))), axis=1)
    for i, q in enumerate(M5_QUANTILES):
        frame[quantile_column(q)] = level + np.sqrt(level) * (z[:, i] + 2.5 * (q - 0.5))
    frame["model"] = "lightgbm"
    forecasts = finalize_forecast(frame, M5_QUANTILES)
    policies = keys.assign(
        policy=rng.choice(["jit", "safety_stock", "seasonal_hybrid"], n_series),
        abc=rng.choice(["A", "B", "C"], n_series),
        service_level=rng.uniform(0.8, 0.98, n_series),
        safety_stock=rng.gamma(2, 3, n_series),
        reorder_point=rng.gamma(3, 5, n_series),
    )
    policies["reasons"] = pd.Series([["class A", "lumpy"]] * n_series, index=policies.index, dtype=object)
    segments = keys.assign(
        abc=policies["abc"], xyz=rng.choice(["X", "Y", "Z"], n_series), cv2=rng.uniform(0, 2, n_series)
    )
    return forecasts, policies, segments


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"bc_store_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench(
    label: str, url: str, frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], horizon: int
) -> dict[str, Any]:
    forecasts, policies, segments = frames
    store = ResultStore(url)
    log.info("%s: creating the schema", label)
    t_upgrade, _ = timed(store.upgrade)
    run_id = store.create_run("benchmark", {"series": len(policies)})
    log.info("%s: publishing %d forecast rows", label, len(forecasts))
    t_publish, _ = timed(
        lambda: store.publish_run(
            run_id,
            forecasts=forecasts,
            policies=policies,
            segments=segments,
            horizon=horizon,
            quantiles=M5_QUANTILES,
            metrics={"wspl": 0.5},
        )
    )
    t_latest, run = timed(store.latest_run)
    keys = list(
        policies[["sku", "channel"]].sample(N_READ_KEYS, random_state=0).itertuples(index=False, name=None)
    )
    log.info("%s: reading back", label)
    t_keys, part = timed(lambda: store.get_forecasts(keys=keys))
    t_all, back = timed(store.get_forecasts)
    t_policies, _ = timed(store.get_policies)
    store.dispose()
    return {
        "backend": label,
        "rows": len(forecasts),
        "schema (s)": t_upgrade,
        "publish (s)": t_publish,
        "rows/s": len(forecasts) / t_publish,
        "latest_run (ms)": 1000 * t_latest,
        f"{N_READ_KEYS} keys (ms)": 1000 * t_keys,
        "whole run (s)": t_all,
        "policies (s)": t_policies,
        "exact": bool(run.id == run_id and len(part) == N_READ_KEYS * horizon and back.equals(forecasts)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--series", type=int, default=30_000)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    log.info("Building %d series x %d days", args.series, args.horizon)
    frames = make_results(args.series, args.horizon)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", frames, args.horizon))
    if not args.no_postgres:
        with postgres_schema(args.postgres_url) as url:
            results.append(bench("postgresql", url, frames, args.horizon))
    table = Table(
        title=f"Result store: {args.series:,} series x {args.horizon} days x {len(M5_QUANTILES)} quantiles"
    )
    for col in results[0]:
        table.add_column(col, justify="left" if col == "backend" else "right")
    for row in results:
        table.add_row(
            *(
                f"{v:,.2f}"
                if isinstance(v, float)
                else f"{v:,}"
                if isinstance(v, int) and not isinstance(v, bool)
                else str(v)
                for v in row.values()
            )
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
