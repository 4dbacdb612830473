"""Scale benchmark: fit + 28-day forecast with all M5 quantiles for a large synthetic catalogue.

Prints wall time, peak memory (RSS high-water of this process and of finished child processes) and
each member's share of the time. The target: 30,000 SKU-channels x 730 days within 20 minutes and
8 GB on 2 cores.

    .venv/bin/python benchmarks/scale.py [--series 30000] [--days 730] [--n-jobs 2] [--model combination]
"""

from __future__ import annotations

import argparse
import logging
import math
import resource
import sys
import time
from pathlib import Path

import pandas as pd

from features.schema import M5_QUANTILES
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from models.registry import make_model

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks' shared helpers (also under -P)
from _memory import PeakMemory

log = logging.getLogger("benchmarks.scale")
HORIZON = 28
CHANNELS = 3


def peak_rss_gb() -> tuple[float, float]:
    """RSS high-water marks in GB: this process, and its waited-for children (e.g. worker pools)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return own, children


def main() -> None:
    """Generate, fit, forecast and print the timing table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=30_000, help="SKU-channels (3 channels per SKU)")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--model", default="combination")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    n_skus = math.ceil(args.series / CHANNELS)
    t0 = time.perf_counter()
    log.info("generating %d SKUs x %d channels x %d days", n_skus, CHANNELS, args.days)
    tables = generate_catalogue(n_skus, CHANNELS, args.days, args.seed).tables
    t1 = time.perf_counter()
    data = build_dataset(tables)
    del tables
    t2 = time.perf_counter()
    n_series = len(data.series())
    log.info("validated %d series, %d sales rows", n_series, len(data.sales))

    params = {"n_jobs": args.n_jobs} if "n_jobs" in make_model(args.model).get_params() else {}
    model = make_model(args.model, **params)
    with PeakMemory() as memory:
        t3 = time.perf_counter()
        model.fit(data)
        t4 = time.perf_counter()
        forecast = model.predict(HORIZON, M5_QUANTILES)
        t5 = time.perf_counter()
    own, children = peak_rss_gb()

    rows = [
        ("generate synthetic data (not timed)", t1 - t0),
        ("validate + complete sales (not timed)", t2 - t1),
        (f"fit {args.model}", t4 - t3),
        (f"forecast {HORIZON} days x {len(M5_QUANTILES)} quantiles", t5 - t4),
    ]
    member_seconds = getattr(model, "fit_seconds_", {})
    wall = (t4 - t3) + (t5 - t4)
    print(f"\nScale: {n_series:,} series x {args.days} days, model {args.model}, n_jobs {args.n_jobs}")
    print(f"forecast rows: {len(forecast):,}")
    table = pd.DataFrame(rows, columns=["stage", "seconds"])
    table["share_of_fit_forecast"] = [None, None, (t4 - t3) / wall, (t5 - t4) / wall]
    print(table.to_string(index=False, float_format="{:.2f}".format))
    if member_seconds:
        shares = pd.DataFrame(
            {"member": list(member_seconds), "fit_seconds": list(member_seconds.values())}
        )
        shares["share_of_fit"] = shares["fit_seconds"] / (t4 - t3)
        print("\nmember time inside the combination's fit (holdout fit + forecast, and refit):")
        print(shares.to_string(index=False, float_format="{:.2f}".format))
    print(f"\nwall time fit + forecast: {wall / 60:.1f} min (target <= 20)")
    stage = "fit" if memory.peak_at <= t4 else "forecast"
    print(f"peak memory of the process tree (PSS, sampled every 0.5 s): {memory.peak_gb:.2f} GB, "
          f"during {stage} at {memory.peak_at - t3:.0f} s (target <= 8)")
    print(f"RSS high-water marks: this process {own:.2f} GB (includes the data), finished children "
          f"{children:.2f} GB (counts pages shared with this process at fork)")


if __name__ == "__main__":
    main()
