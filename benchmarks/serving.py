"""Load test of the HTTP API over loopback: single lookups, batches, memory of the loaded run.

What it does:

1. Publishes a run of ``--series`` SKU-channels x 28 days into a SQLite store in a temporary
   ``BLENDCAST_HOME``. The forecasts are SYNTHETIC numbers made with numpy (gamma means, fixed
   non-crossing quantile multipliers) and the policy rows are synthetic too: this measures serving,
   not forecasting, so any plausible numbers of the canonical shape do.
2. Starts ``uvicorn --factory serving.api.app:create_app`` in a subprocess and waits for ``/ready``.
3. Drives ``GET /v1/forecasts/{sku}/{channel}`` with ``wrk`` (random keys from a Lua script) when it is
   installed, else with an asyncio httpx client of bounded concurrency.
4. Times ``POST /v1/forecasts:batch`` and ``POST /v1/replenishment`` with 1,000 SKU-channels each.
5. Prints one table with the targets, and the server's memory.
6. Side by side with ``mlflow models serve``: trains a REAL champion with the weekly pipeline
   (``training.pipeline.run_training``, SeasonalNaive on a small synthetic catalogue), serves it with
   both servers and times the same question ("the forecast of this SKU-channel") one request at a
   time, checking both give the same means (``--no-mlflow`` skips it).

Run: ``.venv/bin/python benchmarks/serving.py`` (``--series 30000 --workers 1 --duration 20``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
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
from forecasting.persistence import ResultStore

HORIZON = 28
CHANNELS = ("web", "marketplace", "retail")
GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995)
console = Console()
log = logging.getLogger("benchmarks.serving")


def synthetic_run(n_series: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Synthetic forecasts, policies and segments of ``n_series`` SKU-channels (numbers are made up)."""
    rng = np.random.default_rng(seed)
    n_skus = int(np.ceil(n_series / len(CHANNELS)))
    skus = np.array([f"SKU{i:06d}" for i in range(n_skus)])
    keys = pd.DataFrame({"sku": np.repeat(skus, len(CHANNELS))[:n_series],
                         "channel": np.tile(CHANNELS, n_skus)[:n_series]})
    level = rng.gamma(1.5, 4.0, n_series)
    dates = pd.date_range("2026-11-23", periods=HORIZON)
    means = level[:, None] * (1 + 0.2 * np.sin(np.arange(HORIZON) / 7 * 2 * np.pi))[None, :]
    frame = pd.DataFrame({
        "sku": np.repeat(keys["sku"].to_numpy(), HORIZON),
        "channel": np.repeat(keys["channel"].to_numpy(), HORIZON),
        "date": np.tile(dates.to_numpy(), n_series),
        "mean": means.ravel(),
    })
    factors = np.linspace(0.05, 2.6, len(M5_QUANTILES))
    for q, f in zip(M5_QUANTILES, factors, strict=True):
        frame[quantile_column(q)] = frame["mean"] * f
    ltd_mean = level * 14
    grid = ltd_mean[:, None] * np.linspace(1.0, 1.8, len(GRID))[None, :]
    policies = keys.assign(
        policy=rng.choice(["JIT", "SAFETY_STOCK", "SEASONAL_HYBRID"], n_series),
        abc=rng.choice(["A", "B", "C"], n_series), xyz=rng.choice(["X", "Y", "Z"], n_series),
        pattern="smooth", service_level=0.95, lead_time_mean=7.0, lead_time_p90=10.0,
        expected_demand=ltd_mean, reorder_point=grid[:, 4], safety_stock=grid[:, 4] - ltd_mean,
        order_up_to=grid[:, 4] + level * 7, review_demand=level * 7, daily_mean=level,
        moq=10.0, pack_size=6.0,
    )
    # List-valued columns: one list per row.
    policies["reasons"] = pd.Series([["synthetic benchmark row"]] * n_series, dtype=object)
    policies["ltd_levels"] = pd.Series([list(GRID)] * n_series, dtype=object)
    policies["ltd_quantiles"] = pd.Series(grid.tolist(), dtype=object)
    segments = policies[["sku", "channel", "abc", "xyz", "pattern", "policy"]].copy()
    return frame, policies, segments


def publish(home: Path, n_series: int) -> tuple[ResultStore, str, float]:
    """Publish the synthetic run; returns the store, a read key and the publish time."""
    store = ResultStore.from_settings(Settings(home=home))
    started = time.perf_counter()
    frame, policies, segments = synthetic_run(n_series)
    log.info("synthetic run: %d rows", len(frame))
    run_id = store.create_run("benchmark", {"series": n_series})
    store.publish_run(run_id, forecasts=frame, policies=policies, segments=segments, model_version="bench",
                      metrics={"supplier_audit": [{"supplier": "S1", "n_receipts": 3}]}, horizon=HORIZON,
                      quantiles=M5_QUANTILES)
    _, key = store.create_api_key("read", "benchmark")
    return store, key, time.perf_counter() - started


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int, workers: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start uvicorn with the app factory and wait until /ready; returns the process and load time."""
    env = {**os.environ, "BLENDCAST_HOME": str(home), "BLENDCAST_API_POLL_SECONDS": "0",
           "BLENDCAST_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "serving.api.app:create_app", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
           "--timeout-worker-healthcheck", "600"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the server was not ready within 600 s")


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (uvicorn workers), MB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
            total += int(match.group(1)) if match else 0
    return total / 1024


WRK_SCRIPT = """
math.randomseed(7)
local channels = {"web", "marketplace", "retail"}
request = function()
  local i = math.random(0, %d)
  local path = string.format("/v1/forecasts/SKU%%06d/%%s", i, channels[math.random(1, 3)])
  return wrk.format("GET", path, {["X-API-Key"] = "%s"})
end
"""


def run_wrk(port: int, key: str, n_series: int, duration: int, connections: int) -> dict[str, float]:
    """Single lookups with wrk; returns requests/s and latency percentiles (ms)."""
    # Every channel of SKU i exists for i < n_series // 3: the script only asks for existing series.
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT % (n_series // len(CHANNELS) - 1, key))
        script = fh.name
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    Path(script).unlink()

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p90": ms("90%"), "p99": ms("99%"),
            "non2xx": float(errors.group(1)) if errors else 0.0}


async def run_httpx(port: int, key: str, n_series: int, duration: int, connections: int) -> dict[str, float]:
    """Single lookups with an asyncio httpx client of bounded concurrency (when wrk is missing)."""
    n_skus = n_series // len(CHANNELS)
    rng = np.random.default_rng(7)
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + duration
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key},
                                 limits=httpx.Limits(max_connections=connections)) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                i = int(rng.integers(n_skus))
                t0 = time.perf_counter()
                r = await client.get(f"/v1/forecasts/SKU{i:06d}/{CHANNELS[int(rng.integers(3))]}")
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    lat = np.array(latencies)
    p50, p90, p99 = (float(v) for v in np.percentile(lat, [50, 90, 99]))
    return {"rps": len(lat) / elapsed, "p50": p50, "p90": p90, "p99": p99, "non2xx": float(errors)}


def time_batches(port: int, key: str, n_series: int, size: int, repeats: int) -> dict[str, dict[str, float]]:
    """Latency (ms) of batch forecast and batch replenishment requests of ``size`` SKU-channels."""
    rng = np.random.default_rng(11)
    n_skus = n_series // len(CHANNELS)
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=60) as client:
        for name in ("forecasts:batch", "replenishment"):
            path = f"/v1/{name}"
            times = []
            for _ in range(repeats):
                idx = rng.choice(n_skus, size, replace=size > n_skus)
                items: list[dict[str, object]] = [
                    {"sku": f"SKU{i:06d}", "channel": CHANNELS[i % 3]} for i in idx
                ]
                body: dict[str, list[dict[str, object]]] = {"items": [
                    {**it, "on_hand": float(j % 40), "on_order": 5.0} if name == "replenishment" else it
                    for j, it in enumerate(items)
                ]}
                t0 = time.perf_counter()
                r = client.post(path, json=body)
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:300]}")
            arr = np.array(times)
            out[name] = {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)),
                         "max": float(arr.max())}
    return out


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def mlflow_side_by_side(requests: int) -> dict[str, dict[str, float]]:
    """Per-request latency (ms) of the same lookups on our API and on ``mlflow models serve``."""
    from features.synthetic import generate_catalogue, write_catalogue
    from training.pipeline import TrainOptions, run_training

    root = Path(tempfile.mkdtemp(prefix="blendcast-mlflow-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        settings = Settings(home=root / "home", n_jobs=1)
        write_catalogue(generate_catalogue(30, 2, 300, 1), root / "data")
        log.info("training a champion with the weekly pipeline (seasonal_naive, small catalogue)")
        result = run_training(settings, TrainOptions(data_dir=root / "data", model="seasonal_naive", folds=1,
                                                     n_paths=100))
        store = ResultStore.from_settings(settings)
        _, key = store.create_api_key("read", "benchmark")
        keys = store.get_forecasts()[["sku", "channel"]].drop_duplicates().to_numpy().tolist()
        ours, theirs = free_port(), free_port()
        procs.append(start_server(settings.home, ours, 1)[0])
        env = {**os.environ, "MLFLOW_TRACKING_URI": settings.resolved_mlflow_uri,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        log.info("starting mlflow models serve on version %s (champion)", result.version)
        mlflow_cli = str(Path(sys.executable).parent / "mlflow")
        procs.append(subprocess.Popen(
            [mlflow_cli, "models", "serve", "-m", "models:/blendcast-demand@champion",
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(theirs)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(f"http://127.0.0.1:{theirs}/ping", procs[-1])
        rng = np.random.default_rng(5)
        times: dict[str, list[float]] = {"blendcast API": [], "mlflow models serve": []}
        with httpx.Client(timeout=30) as client:
            for n in range(requests):
                sku, channel = keys[int(rng.integers(len(keys)))]
                t0 = time.perf_counter()
                a = client.get(f"http://127.0.0.1:{ours}/v1/forecasts/{sku}/{channel}",
                               headers={"X-API-Key": key})
                t1 = time.perf_counter()
                b = client.post(f"http://127.0.0.1:{theirs}/invocations",
                                json={"dataframe_records": [{"sku": sku, "channel": channel}]})
                t2 = time.perf_counter()
                if n >= 5:  # the first requests warm both servers up
                    times["blendcast API"].append((t1 - t0) * 1000)
                    times["mlflow models serve"].append((t2 - t1) * 1000)
                if n == 0:
                    mine = a.json()["mean"]
                    other = [row["mean"] for row in b.json()["predictions"]]
                    if not np.allclose(mine, other):
                        raise RuntimeError(f"the two servers disagree for {sku}/{channel}: {mine} vs {other}")
        return {name: dict(zip(("p50", "p90", "p99"), (float(v) for v in np.percentile(t, [50, 90, 99])),
                               strict=True)) for name, t in times.items()}
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server: graceful first, killed if it does not exit within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def plot(path: Path, single: dict[str, float], batches: dict[str, dict[str, float]],
         side: dict[str, dict[str, float]]) -> None:
    """Latency percentiles per request kind against their targets, and the side-by-side with MLflow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    kinds = ["single lookup", "forecasts:batch", "replenishment"]
    p50 = [single["p50"], batches["forecasts:batch"]["p50"], batches["replenishment"]["p50"]]
    tail = [single["p99"], batches["forecasts:batch"]["p95"], batches["replenishment"]["p95"]]
    x = np.arange(len(kinds))
    left.bar(x - 0.2, p50, 0.4, label="p50")
    left.bar(x + 0.2, tail, 0.4, label="p99 (single) / p95 (batches)")
    left.scatter(x, [25, 250, 500], marker="_", s=900, color="red", label="target", zorder=3)
    left.set_xticks(x, kinds)
    left.set_yscale("log")
    left.set_ylabel("ms (log scale)")
    left.set_title("Blendcast API latency under load")
    left.legend(fontsize=8, markerscale=0.3, loc="lower right")
    if side:
        names = list(side)
        for i, q in enumerate(("p50", "p90", "p99")):
            right.bar(np.arange(len(names)) + (i - 1) * 0.25, [side[n][q] for n in names], 0.25, label=q)
        right.set_xticks(np.arange(len(names)), names)
        right.set_ylabel("ms per request")
        right.set_title("Same lookup, one at a time")
        right.legend(fontsize=8)
    else:
        right.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Run the load test and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=30_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=20, help="Seconds of single-lookup load.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-mlflow", action="store_true", help="Skip the mlflow models serve comparison.")
    parser.add_argument("--mlflow-requests", type=int, default=300)
    parser.add_argument("--plot", type=Path, default=None, help="Save the latency chart to this PNG.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="blendcast-bench-"))
    proc = None
    try:
        log.info("publishing %d synthetic SKU-channels into %s", args.series, home)
        _store, key, publish_s = publish(home, args.series)
        log.info("published in %.1f s; starting uvicorn (%d worker(s))", publish_s, args.workers)
        port = free_port()
        proc, ready_s = start_server(home, port, args.workers)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        run_bytes = float(re.search(r"blendcast_served_run_bytes ([\d.e+]+)", metrics).group(1))  # type: ignore[union-attr]
        memory = rss_mb(proc.pid)
        tool = "wrk" if shutil.which("wrk") else "httpx"
        log.info("ready after %.1f s; single lookups with %s for %d s", ready_s, tool, args.duration)
        if tool == "wrk":
            single = run_wrk(port, key, args.series, args.duration, args.connections)
        else:
            single = asyncio.run(run_httpx(port, key, args.series, args.duration, args.connections))
        log.info("batches of %d", args.batch_size)
        batches = time_batches(port, key, args.series, args.batch_size, args.repeats)
        memory_after = rss_mb(proc.pid)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(home, ignore_errors=True)

    table = Table(title=f"Blendcast API, {args.series:,} SKU-channels x {HORIZON} days, "
                        f"{args.workers} uvicorn worker(s), 2-core machine (shared)")
    for col in ("measure", "value", "target", "ok"):
        table.add_column(col)

    def row(name: str, value: str, target: str, ok: bool | None) -> None:
        table.add_row(name, value, target, "" if ok is None else ("yes" if ok else "NO"))

    row(f"single lookup throughput ({tool}, {args.connections} conn)", f"{single['rps']:,.0f} req/s",
        ">= 1,000 req/s", single["rps"] >= 1000)
    row("single lookup latency p50 / p90", f"{single['p50']:.1f} / {single['p90']:.1f} ms", "", None)
    row("single lookup latency p99", f"{single['p99']:.1f} ms", "<= 25 ms", single["p99"] <= 25)
    row("single lookup non-2xx", f"{single['non2xx']:.0f}", "0", single["non2xx"] == 0)
    for name, limit in (("forecasts:batch", 250.0), ("replenishment", 500.0)):
        b = batches[name]
        value = f"{b['p50']:.0f} / {b['p95']:.0f} / {b['max']:.0f} ms"
        row(f"{name} of {args.batch_size} p50 / p95 / max", value, f"<= {limit:.0f} ms", b["p95"] <= limit)
    row("loaded run arrays", f"{run_bytes / 1e6:.1f} MB", "", None)
    row("server RSS after load / after test", f"{memory:.0f} / {memory_after:.0f} MB", "", None)
    row("publish (SQLite) / start to ready", f"{publish_s:.1f} / {ready_s:.1f} s", "", None)
    console.print(table)
    if not args.no_mlflow:
        side = mlflow_side_by_side(args.mlflow_requests)
        compare = Table(title="Same question, one request at a time: GET /v1/forecasts/{sku}/{channel} vs "
                              "POST /invocations (mlflow models serve), same champion, 60 SKU-channels")
        for col in ("server", "p50 ms", "p90 ms", "p99 ms"):
            compare.add_column(col)
        for name, q in side.items():
            compare.add_row(name, f"{q['p50']:.1f}", f"{q['p90']:.1f}", f"{q['p99']:.1f}")
        console.print(compare)
    else:
        side = {}
    if args.plot is not None:
        plot(args.plot, single, batches, side)
        console.print(f"chart: {args.plot}")


if __name__ == "__main__":
    main()
