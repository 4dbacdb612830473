"""Benchmark of the drift report and the analyst pages on a large synthetic catalogue.

Usage::

    .venv/bin/python -P benchmarks/drift.py                 # 15,000 SKUs x 2 channels = 30,000 series
    .venv/bin/python -P benchmarks/drift.py --skus 500 --days 300

``-P`` keeps the script folder off ``sys.path``: ``benchmarks/serving.py`` would shadow the package.

Setup (not timed against a target): generate the catalogue, publish two weekly runs (seasonal naive
forecasts 7 days apart, segments, policies) into a fresh SQLite store. Then it times ``run_drift``
(compute, build the HTML, save it) and every analyst page over loopback (uvicorn in a thread, httpx),
prints one table with the targets (report <= 60 s and <= 10 MB; each page <= 1 s) and writes a bar
chart of the page times to ``benchmarks/results/drift_pages.png``.
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import uvicorn
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from features.dataset import Dataset
from features.schema import M5_QUANTILES
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.infrastructure.settings import Settings
from forecasting.inventory.segmentation import segment
from forecasting.persistence import ResultStore
from models.registry import make_model
from serving.api.app import create_app
from serving.reports import run_drift
from serving.ui import attach_sales

REPORT_SECONDS = 60.0
REPORT_MB = 10.0
PAGE_SECONDS = 1.0
RESULTS = Path(__file__).parent / "results"
console = Console()


def _policies(forecast: pd.DataFrame, seg: pd.DataFrame) -> pd.DataFrame:
    daily = forecast.groupby(["sku", "channel"], as_index=False, observed=True).agg(
        mean=("mean", "mean"), high=("0.975", "mean")
    )
    out = daily.merge(seg[["sku", "channel", "abc", "xyz", "pattern"]], on=["sku", "channel"])
    hybrid_or_jit = np.where(out["xyz"] == "Z", "hybrid", "jit")
    out["policy"] = np.where(out["abc"] == "A", "safety_stock", hybrid_or_jit)
    out["safety_stock"] = 7 * (out["high"] - out["mean"])
    out["reorder_point"] = 7 * out["mean"] + out["safety_stock"]
    return out.drop(columns=["mean", "high"])


def publish_runs(data: Dataset, store: ResultStore) -> list[int]:
    """Two weekly runs, 14 and 7 days before the last sales day, so both have some actuals."""
    ids = []
    for back in (14, 7):
        known = data.truncate(data.end_date - pd.Timedelta(days=back))
        forecast = make_model("seasonal_naive").fit(known).predict(28, M5_QUANTILES)
        seg = segment(known)
        run_id = store.create_run("weekly", {"model": "seasonal_naive", "benchmark": True})
        audit = [{"supplier": f"SUP{i:03d}", "n_receipts": 20 + i, "promised_days": 5.0,
                  "mean_days": 5.0 + i % 7, "on_time_rate": 0.5 + (i % 5) / 10} for i in range(40)]
        store.publish_run(run_id, forecasts=forecast, policies=_policies(forecast, seg),
                          segments=seg[["sku", "channel", "abc", "xyz", "pattern"]],
                          metrics={"supplier_audit": audit}, horizon=28, quantiles=M5_QUANTILES)
        ids.append(run_id)
        console.log(f"published run {run_id}: {len(forecast):,} forecast rows")
    types = ("segment_change", "volatility_shift", "stockout_risk")
    store.add_alerts([{"type": types[i % 3], "severity": "warning", "sku": f"SKU{i:05d}",
                       "channel": "own_shop", "payload": {"i": i}} for i in range(300)])
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_pages(store_url: str, home: Path, sales: pd.DataFrame, sku: str, rounds: int) -> pd.DataFrame:
    """Cold (first) and warm (median, max of ``rounds``) time of each page over loopback."""
    app = create_app(Settings(home=home, database_url=store_url, api_poll_seconds=0))
    attach_sales(app, sales)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    pages = {"overview": "/ui", "sku search + fan chart": f"/ui/sku?q={sku}", "ABC x XYZ": "/ui/matrix",
             "alerts": "/ui/alerts", "alerts filtered": "/ui/alerts?type=volatility_shift&since=2000-01-01",
             "suppliers": "/ui/suppliers", "drift report": "/reports/drift/latest"}
    rows = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for name, url in pages.items():
                times = []
                for _ in range(rounds + 1):
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - start)
                    response.raise_for_status()
                warm = times[1:]
                rows.append({"page": name, "cold_s": times[0], "median_s": statistics.median(warm),
                             "max_s": max(warm), "kB": len(response.content) / 1024})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return pd.DataFrame(rows)


def _plot(pages: pd.DataFrame, path: Path) -> None:
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    y = np.arange(len(pages))
    ax.barh(y - 0.2, pages["cold_s"], height=0.4, label="first request")
    ax.barh(y + 0.2, pages["max_s"], height=0.4, label="slowest warm request")
    ax.axvline(PAGE_SECONDS, color="red", linestyle="--", label="target 1 s")
    ax.set_yticks(y, pages["page"])
    ax.set_xlabel("seconds over loopback")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=15_000)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5, help="Warm requests per page.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("alembic", "httpx", "features.synthetic.generator"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bc-drift-bench-") as tmp:
        home = Path(tmp)
        start = time.perf_counter()
        data = build_dataset(generate_catalogue(args.skus, args.channels, args.days, seed=args.seed).tables)
        n_series = len(data.series())
        elapsed = time.perf_counter() - start
        console.log(f"catalogue: {n_series:,} series, {len(data.sales):,} rows ({elapsed:.1f} s)")
        store = ResultStore(f"sqlite:///{home / 'blendcast.db'}")
        start = time.perf_counter()
        publish_runs(data, store)
        setup_s = time.perf_counter() - start

        start = time.perf_counter()
        report_id, html = run_drift(data, store)
        report_s = time.perf_counter() - start
        report = store.get_drift_report(report_id)
        summary = report.summary if report is not None else {}
        report_mb = len(html.encode()) / 1e6
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "drift_report.html").write_text(html, encoding="utf-8")

        sku = str(data.sales["sku"].iloc[len(data.sales) // 2])
        pages = time_pages(store.url, home, data.sales, sku, args.rounds)
        _plot(pages, RESULTS / "drift_pages.png")
        store.dispose()

    table = Table(title=f"Drift report and pages: {n_series:,} SKU-channels x {args.days} days")
    for col in ("measure", "value", "target", "ok"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row("publish 2 runs (setup)", f"{setup_s:.1f} s", "-", "")
    table.add_row("drift computed + report built + saved", f"{report_s:.1f} s", f"<= {REPORT_SECONDS:.0f} s",
                  "yes" if report_s <= REPORT_SECONDS else "NO")
    table.add_row("  of which compute_drift", f"{summary.get('seconds', float('nan')):.1f} s", "", "")
    size_ok = "yes" if report_mb <= REPORT_MB else "NO"
    table.add_row("report size", f"{report_mb:.2f} MB", f"<= {REPORT_MB:.0f} MB", size_ok)
    table.add_row("verdict", str(summary.get("verdict")), "", "")
    for rec in pages.to_dict("records"):
        cold, median, slowest = float(rec["cold_s"]), float(rec["median_s"]), float(rec["max_s"])
        table.add_row(f"page {rec['page']} (cold / median / max, {float(rec['kB']):.0f} kB)",
                      f"{cold:.3f} / {median:.3f} / {slowest:.3f} s", f"<= {PAGE_SECONDS:.0f} s",
                      "yes" if max(cold, slowest) <= PAGE_SECONDS else "NO")
    console.print(table)
    console.print(f"report: {RESULTS / 'drift_report.html'}; page chart: {RESULTS / 'drift_pages.png'}")


if __name__ == "__main__":
    main()
