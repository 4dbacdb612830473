"""The full weekly job on a synthetic catalogue: wall time per stage, peak memory, MLflow overhead,
and (with ``--dask``) the same job on a local Dask cluster of 2 workers with its results compared.

    .venv/bin/python benchmarks/pipeline.py --series 30000 --days 730
    .venv/bin/python benchmarks/pipeline.py --series 3000 --dask

At full scale the two engines can run as separate processes and be compared afterwards:

    .venv/bin/python benchmarks/pipeline.py --series 30000 --save-forecasts /tmp/bench/fc
    .venv/bin/python benchmarks/pipeline.py --series 30000 --dask-only --save-forecasts /tmp/bench/fc

Targets (issue 6): 30,000 SKU-channels x 730 days in <= 45 minutes wall and <= 10 GB peak on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from training.pipeline import TrainOptions, TrainResult, run_training

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks' shared helpers (also under -P)
from _memory import PeakMemory


def peak_rss_gb() -> tuple[float, float]:
    """High-water resident memory of this process and of its largest finished child, in GB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own / 1024**2, children / 1024**2


def series_totals(home: Path) -> pd.DataFrame:
    """The served forecast summed over the horizon per series: mean and median (q 0.5) totals."""
    forecasts = ResultStore.from_settings(Settings(home=home)).get_forecasts()
    return (
        forecasts.groupby(["sku", "channel"], observed=True)[["mean", "0.5"]].sum().reset_index()
    )


def compare(local: pd.DataFrame, dask: pd.DataFrame, wspl: dict[str, float]) -> None:
    """Print how far the Dask engine's published forecasts are from the local engine's."""
    both = local.merge(dask, on=["sku", "channel"], suffixes=("_local", "_dask"), how="outer")
    missing = int(both[["mean_local", "mean_dask"]].isna().any(axis=1).sum())
    total_local, total_dask = both["mean_local"].sum(), both["mean_dask"].sum()
    rel = (both["mean_dask"] - both["mean_local"]).abs() / both["mean_local"].clip(lower=1.0)
    print(f"Dask vs local: {len(both)} series, {missing} missing on one side")
    print(f"  total forecast demand: {total_dask:,.0f} vs {total_local:,.0f} "
          f"({100 * (total_dask - total_local) / total_local:+.2f}%; tolerance +-10%)")
    print(f"  per-series horizon total, |dask - local| / max(local, 1): median {np.nanmedian(rel):.3f}, "
          f"p90 {np.nanquantile(rel, 0.9):.3f}")
    if "local" in wspl and "dask" in wspl:
        a, b = wspl["local"], wspl["dask"]
        print(f"  backtest WSPL: {b:.4f} vs {a:.4f} ({100 * (b - a) / a:+.1f}%; tolerance +-10%)")


def run(data: Path, home: Path, args: argparse.Namespace, engine: str,
        marks: list[tuple[float, str]]) -> tuple[TrainResult, float]:
    settings = Settings(home=home, n_jobs=0, seed=0)
    options = TrainOptions(
        data_dir=data,
        model=args.model,
        folds=args.folds,
        n_paths=args.paths,
        engine=engine,
        dask_workers=2,
    )
    started = time.perf_counter()

    def report(line: str) -> None:
        marks.append((time.perf_counter(), line))
        print("   ", line, flush=True)

    result = run_training(settings, options, report=report)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=30_000, help="SKU-channels (3 channels per SKU)")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--model", default="combination")
    parser.add_argument("--folds", type=int, default=TrainOptions.folds, help="backtest folds")
    parser.add_argument("--paths", type=int, default=TrainOptions.n_paths, help="sample paths per series")
    parser.add_argument("--dask", action="store_true", help="also run on a local Dask cluster (2 workers)")
    parser.add_argument("--dask-only", action="store_true",
                        help="run only on the local Dask cluster (compare with a separate local run: the "
                             "catalogue is the same for the same --series and --days)")
    parser.add_argument("--save-forecasts", type=Path, default=None,
                        help="keep each engine's per-series forecast totals and WSPL here and compare "
                             "local with dask when both are present (also across separate runs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # Each of the ~12,000 alerts of a 30,000-series synthetic catalogue is logged at WARNING: the job's
    # own log, not this table's.
    logging.getLogger("forecasting.signals.alerts").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        # Generated in a child process, so this process's memory high-water mark is the job's alone.
        subprocess.run(
            [sys.executable, "-m", "serving.cli", "demo-data", "--skus", str(max(1, args.series // 3)),
             "--channels", "3", "--days", str(args.days), "--seed", "0", "--out", str(root / "data"),
             "--no-plot"],
            check=True, capture_output=True,
        )
        n_series = 3 * max(1, args.series // 3)
        print(f"catalogue: {n_series} SKU-channels x {args.days} days in {time.perf_counter() - t0:.0f} s")

        engines = ["dask"] if args.dask_only else ["local", "dask"] if args.dask else ["local"]
        results: dict[str, tuple[TrainResult, float]] = {}
        peaks: dict[str, float] = {}
        peak_stage: dict[str, str] = {}
        for engine in engines:
            print(f"== {engine} engine ==", flush=True)
            marks: list[tuple[float, str]] = []
            with PeakMemory() as memory:
                results[engine] = run(root / "data", root / f"home-{engine}", args, engine, marks)
            peaks[engine] = memory.peak_gb
            started = [line for at, line in marks if at <= memory.peak_at and line.endswith("...")]
            peak_stage[engine] = started[-1] if started else "before the first stage"
            result, wall = results[engine]
            print(f"{engine}: {result.status} in {wall:.1f} s, peak {peaks[engine]:.2f} GB, "
                  f"WSPL {result.metrics.get('backtest_wspl', float('nan')):.4f}", flush=True)
            if args.save_forecasts is not None and result.status == "published":
                args.save_forecasts.mkdir(parents=True, exist_ok=True)
                totals = series_totals(root / f"home-{engine}")
                totals.attrs = {}
                totals.to_parquet(args.save_forecasts / f"{engine}.parquet")
                (args.save_forecasts / f"{engine}.wspl").write_text(
                    str(result.metrics.get("backtest_wspl", float("nan")))
                )

    print()
    print(
        f"Weekly job, {n_series} SKU-channels x {args.days} days, model {args.model}, "
        f"{args.folds} backtest fold(s), 2 cores"
    )
    header = f"{'stage':<12}" + "".join(f"{e + ' s':>14}" for e in engines)
    print(header)
    print("-" * len(header))
    stages = list(results[engines[0]][0].timings)
    for stage in stages:
        print(
            f"{stage:<12}"
            + "".join(f"{results[e][0].timings.get(stage, float('nan')):>14.1f}" for e in engines)
        )
    print(f"{'total wall':<12}" + "".join(f"{results[e][1]:>14.1f}" for e in engines))
    print(
        f"{'WSPL':<12}"
        + "".join(f"{results[e][0].metrics.get('backtest_wspl', float('nan')):>14.4f}" for e in engines)
    )
    print(
        f"{'coverage 95':<12}"
        + "".join(
            f"{results[e][0].metrics.get('backtest_coverage_95', float('nan')):>14.3f}" for e in engines
        )
    )
    print(f"{'status':<12}" + "".join(f"{results[e][0].status:>14}" for e in engines))
    print(f"{'peak GB':<12}" + "".join(f"{peaks[e]:>14.2f}" for e in engines)
          + "   (PSS of the process tree incl. workers, sampled every 0.5 s)")
    for engine in engines:
        print(f"  {engine}: peak during {peak_stage[engine]!r}")
    own, child = peak_rss_gb()
    print(f"RSS high-water mark of this process: {own:.2f} GB (largest finished child: {child:.2f} GB)")
    register = results[engines[0]][0].timings.get("register", float("nan"))
    print(
        f"MLflow overhead per run (register stage: bundle, artifacts, log_model, register): {register:.1f} s "
        f"= {100 * register / results[engines[0]][1]:.1f}% of the job"
    )
    saved = args.save_forecasts
    if saved is not None and (saved / "local.parquet").exists() and (saved / "dask.parquet").exists():
        wspl = {e: float((saved / f"{e}.wspl").read_text()) for e in ("local", "dask")}
        compare(pd.read_parquet(saved / "local.parquet"), pd.read_parquet(saved / "dask.parquet"), wspl)
    elif len(engines) == 2:
        a = results["local"][0].metrics["backtest_wspl"]
        b = results["dask"][0].metrics["backtest_wspl"]
        print(f"Dask vs local WSPL: {b:.4f} vs {a:.4f} ({100 * (b - a) / a:+.1f}%; tolerance +-10%)")


if __name__ == "__main__":
    main()
