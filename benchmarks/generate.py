"""Benchmark of the synthetic catalogue generator: speed, memory and size on disk.

Usage::

    .venv/bin/python benchmarks/generate.py                      # 10,000 SKUs x 3 channels x 730 days
    .venv/bin/python benchmarks/generate.py --skus 1000 --keep out/

Prints one table: rows, seconds, rows/second per stage (generate in memory, write to disk), the peak
resident memory of the process and the size of the written catalogue. The target is 30,000
SKU-channels x 730 days in under two minutes.
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from features.synthetic import generate_catalogue, write_catalogue

TARGET_SECONDS = 120.0


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1.0 if sys.platform != "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; exit code 1 if it misses the time target."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="Write here and keep (default: temp dir).")
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console(width=150)

    baseline_mb = _peak_rss_mb()
    t0 = time.perf_counter()
    cat = generate_catalogue(args.skus, args.channels, args.days, args.seed)
    t_gen = time.perf_counter() - t0
    gen_peak = _peak_rss_mb()

    tmp_root = Path(tempfile.mkdtemp(prefix="blendcast-bench-"))
    out = args.keep or tmp_root / "catalogue"
    try:
        t1 = time.perf_counter()
        written = write_catalogue(cat, out)
        t_write = time.perf_counter() - t1
        size = _size_mb(written)
        sales_size = (written / "sales.parquet").stat().st_size / 1e6
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    total = t_gen + t_write
    rows = len(cat.sales)
    all_rows = sum(len(t) for t in cat.tables.values())

    table = Table(
        title=f"Synthetic catalogue: {args.skus:,} SKUs x {args.channels} channels x {args.days} days "
        f"(seed {args.seed})"
    )
    for column in ("stage", "sales rows", "all rows", "seconds", "sales rows/s", "peak RSS MB", "on disk MB"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    table.add_row("generate (memory)", f"{rows:,}", f"{all_rows:,}", f"{t_gen:.1f}", f"{rows / t_gen:,.0f}",
                  f"{gen_peak:,.0f}", "")
    table.add_row("write (disk)", f"{rows:,}", f"{all_rows:,}", f"{t_write:.1f}", f"{rows / t_write:,.0f}",
                  f"{_peak_rss_mb():,.0f}", f"{size:,.1f} (sales {sales_size:,.1f})")
    table.add_row("total", f"{rows:,}", f"{all_rows:,}", f"{total:.1f}", f"{rows / total:,.0f}",
                  f"{_peak_rss_mb():,.0f}", f"{size:,.1f}")
    console.print(table)
    series = args.skus * args.channels
    verdict = "PASS" if total < TARGET_SECONDS else "MISS"
    console.print(
        f"{series:,} SKU-channels x {args.days} days in {total:.1f} s (target < {TARGET_SECONDS:.0f} s): "
        f"{verdict}. Python baseline RSS before generating: {baseline_mb:,.0f} MB.",
        highlight=False,
    )
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
