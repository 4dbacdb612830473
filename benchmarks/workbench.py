"""Latency of the planner's workbench: ``GET /v1/purchase-orders``, ``GET /v1/kpis`` and the pages.

What it does:

1. Publishes a SYNTHETIC run of ``--series`` SKU-channels (default 10,000) into a SQLite store in a
   temporary ``BLENDCAST_HOME``: numpy forecasts and policy rows with stock positions, suppliers, MOQ /
   packs and unit costs (about a third of the series at or below their reorder point), the exceptions
   of those policies stored as alerts, and realized KPIs in the run's metrics. This measures serving,
   not forecasting.
2. Starts ``uvicorn --factory serving.api.app:create_app`` (one worker) and waits for ``/ready``.
3. Times ``--requests`` sequential requests of each endpoint and page over loopback with a read key
   (the first request of the purchase orders builds the proposal and is reported apart: it is cached
   with the served run afterwards).
4. Prints one table: cold, p50, p95 and max in ms against the targets (purchase orders p95 <= 250 ms,
   pages <= 1 s).

Run: ``.venv/bin/python benchmarks/workbench.py`` (``--series 10000 --requests 50``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.schema import M5_QUANTILES, quantile_column
from forecasting.infrastructure.settings import Settings
from forecasting.inventory.exceptions import detect_exceptions
from forecasting.persistence import ResultStore
from forecasting.signals.exception_alerts import exception_alerts

HORIZON = 28
CHANNELS = ("web", "marketplace")
GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995)
AS_OF = pd.Timestamp("2026-11-22")
console = Console(width=140)


def synthetic_run(n_series: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Forecasts, policies (with stock, suppliers, MOQ/packs, costs) and segments; numbers are made up."""
    rng = np.random.default_rng(seed)
    n_skus = int(np.ceil(n_series / len(CHANNELS)))
    skus = np.array([f"SKU{i:06d}" for i in range(n_skus)])
    keys = pd.DataFrame({"sku": np.repeat(skus, len(CHANNELS))[:n_series],
                         "channel": np.tile(CHANNELS, n_skus)[:n_series]})
    level = rng.gamma(1.5, 4.0, n_series)
    dates = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=HORIZON)
    frame = pd.DataFrame({"sku": np.repeat(keys["sku"].to_numpy(), HORIZON),
                          "channel": np.repeat(keys["channel"].to_numpy(), HORIZON),
                          "date": np.tile(dates.to_numpy(), n_series), "mean": np.repeat(level, HORIZON)})
    for q, f in zip(M5_QUANTILES, np.linspace(0.05, 2.6, len(M5_QUANTILES)), strict=True):
        frame[quantile_column(q)] = frame["mean"] * f
    lead = rng.choice([4.0, 9.0, 35.0], n_series)
    ltd_mean = level * (lead + 7)
    grid = ltd_mean[:, None] * np.linspace(1.0, 1.8, len(GRID))[None, :]
    sku_codes = pd.factorize(keys["sku"])[0]
    policies = keys.assign(
        policy=rng.choice(["jit", "safety_stock", "seasonal_hybrid"], n_series),
        abc=rng.choice(["A", "B", "C"], n_series), xyz=rng.choice(["X", "Y", "Z"], n_series),
        pattern="smooth", service_level=0.95, lead_time_mean=lead, lead_time_p90=lead * 1.3,
        expected_demand=ltd_mean, reorder_point=grid[:, 4], safety_stock=grid[:, 4] - ltd_mean,
        order_up_to=grid[:, 4] + level * 7, review_demand=level * 7, daily_mean=level,
        moq=np.array([0.0, 12.0, 48.0])[sku_codes % 3], pack_size=np.array([1.0, 6.0, 12.0])[sku_codes % 3],
        unit_cost=np.round(rng.gamma(2.0, 5.0, n_skus)[sku_codes], 2),
        supplier=np.array([f"SUP{i:03d}" for i in range(40)])[sku_codes % 40],
        on_hand=np.round(grid[:, 4] * rng.uniform(0.3, 2.5, n_series)), on_order=0.0, backorders=0.0,
        buffer_active=False, stock_known=True,
    )
    policies["reasons"] = pd.Series([["synthetic benchmark row"]] * n_series, dtype=object)
    policies["ltd_levels"] = pd.Series([list(GRID)] * n_series, dtype=object)
    policies["ltd_quantiles"] = pd.Series(grid.tolist(), dtype=object)
    segments = policies[["sku", "channel", "abc", "xyz", "pattern", "policy"]].assign(as_of=AS_OF)
    return frame, policies, segments


def kpi_metrics() -> dict[str, object]:
    """A few quarters of realized KPIs (synthetic) for the KPI page and endpoint."""
    groups = []
    for q in range(4):
        end = (AS_OF - pd.Timedelta(days=91 * q)).date().isoformat()
        for policy in ("all", "jit", "safety_stock", "seasonal_hybrid"):
            for abc in ("all", "A", "B", "C"):
                groups.append({"quarter_end": end, "policy": policy, "abc": abc, "n_series": 100,
                               "units": 1e4, "revenue": 5e4, "cogs": 2e4, "avg_inventory_value": 1e4,
                               "stockout_rate": 0.02,
                               "stockout_events_per_sku": 0.5 + q / 10, "turnover": 8.0 - q,
                               "days_of_inventory": 45.0 + q, "carrying_cost_pct": 1.2, "lead_time_mean": 9.0,
                               "cash_cycle_days": 54.0, "returns_rate": None})
    return {"groups": groups, "suppliers": [{"quarter_end": AS_OF.date().isoformat(), "supplier": "SUP001",
                                             "n_receipts": 12, "lead_time_mean": 9.0, "lead_time_var": 4.0,
                                             "on_time_rate": 0.8}]}


def publish(home: Path, n_series: int) -> tuple[str, int]:
    """Publish the run and its exceptions; returns a read key and the number of exceptions stored."""
    store = ResultStore.from_settings(Settings(home=home))
    frame, policies, segments = synthetic_run(n_series)
    run_id = store.create_run("benchmark", {"series": n_series})
    store.publish_run(run_id, forecasts=frame, policies=policies, segments=segments, model_version="bench",
                      metrics={"backtest_wspl": 0.61, "operating_kpis": kpi_metrics(),
                               "supplier_audit": [{"supplier": "SUP001", "n_receipts": 3}]},
                      horizon=HORIZON, quantiles=M5_QUANTILES)
    found = detect_exceptions(policies, AS_OF)
    store.add_alerts(exception_alerts(found, run_id, AS_OF))
    _, key = store.create_api_key("read", "benchmark")
    store.dispose()
    return key, len(found)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    """uvicorn with the app factory, ready."""
    env = {**os.environ, "BLENDCAST_HOME": str(home), "BLENDCAST_API_POLL_SECONDS": "0",
           "BLENDCAST_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "serving.api.app:create_app",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the server was not ready within 600 s")


def time_get(client: httpx.Client, path: str, n: int) -> tuple[float, np.ndarray, int]:
    """Cold time of the first request and the times of ``n`` more (ms), and the response size."""
    started = time.perf_counter()
    first = client.get(path)
    cold = (time.perf_counter() - started) * 1000
    if first.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {first.status_code} {first.text[:200]}")
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return cold, np.array(times), len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    targets = {"/v1/purchase-orders": 250.0, "/v1/purchase-orders?supplier=SUP007": 250.0, "/v1/kpis": 250.0}
    pages = ["/ui", "/ui/orders", "/ui/orders?supplier=SUP007", "/ui/exceptions", "/ui/kpis"]
    with tempfile.TemporaryDirectory(prefix="blendcast-workbench-") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        key, n_exceptions = publish(home, args.series)
        console.print(f"Published {args.series:,} SKU-channels and {n_exceptions:,} exceptions in "
                      f"{time.perf_counter() - started:.1f} s")
        port = free_port()
        proc = start_server(home, port)
        try:
            table = Table(title=f"Workbench latency, {args.series:,} SKU-channels, {args.requests} "
                                "sequential requests each (ms)")
            for col in ("request", "cold", "p50", "p95", "max", "KB", "target", "ok"):
                table.add_column(col, justify="left" if col == "request" else "right")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key},
                              timeout=60) as client:
                for path in [*targets, *pages]:
                    cold, times, size = time_get(client, path, args.requests)
                    target = targets.get(path, 1000.0)
                    p95 = float(np.percentile(times, 95))
                    table.add_row(path, f"{cold:.0f}", f"{np.median(times):.1f}", f"{p95:.1f}",
                                  f"{times.max():.0f}", f"{size / 1024:.0f}", f"p95 <= {target:.0f}",
                                  "yes" if p95 <= target and (path not in pages or cold <= target) else "NO")
            console.print(table)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
