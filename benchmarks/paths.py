"""Sample-path benchmark: quantiles to joint paths, and the calibrated remap of paths' tails.

Times, for a catalogue of ``--series`` series x ``--paths`` paths x ``--horizon`` days (median of
``--repeats`` runs, one thread):

* ``paths_from_quantiles``: LightGBM's and the combination's paths (9 M5 levels, AR(1) copula);
* ``quantile_function``: the same draws' quantile function alone;
* ``LevelCalibrator.remap_paths``: the combination's tail calibration of the paths.

Prints a checksum of the paths so runs of two checkouts can be compared for equal output:

    .venv/bin/python benchmarks/paths.py --series 3000
    PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/paths.py --series 3000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy import stats

from features.schema import M5_QUANTILES
from models.calibration import LevelCalibrator
from models.paths import paths_from_quantiles, quantile_function


def _median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), out


def _calibrator(rng: np.random.Generator) -> LevelCalibrator:
    """A calibrator fitted on forecasts whose tails are too narrow (so the remap moves them)."""
    y = rng.normal(10.0, 2.0, 4000)
    levels = np.asarray(LevelCalibrator().levels)
    q = np.broadcast_to(stats.norm.ppf(levels, 10.0, 1.4), (len(y), len(levels)))
    return LevelCalibrator().fit(y, q)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=3000)
    parser.add_argument("--paths", type=int, default=300)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # Count-like quantiles: many zeros and ties, as daily demand forecasts have.
    values = np.sort(rng.gamma(1.0, 3.0, (args.series, args.horizon, len(M5_QUANTILES))).round(), axis=-1)
    rho = rng.uniform(0.0, 0.9, args.series)
    rows = []
    seconds, paths = _median_seconds(
        lambda: paths_from_quantiles(values, M5_QUANTILES, args.paths, np.random.default_rng(1), rho=rho),
        args.repeats,
    )
    assert isinstance(paths, np.ndarray)
    rows.append(("paths_from_quantiles", seconds, float(paths.astype(np.float64).sum())))
    u = np.random.default_rng(2).uniform(1e-6, 1 - 1e-6, (min(args.series, 500), args.horizon, args.paths))
    seconds, drawn = _median_seconds(
        lambda: quantile_function(values[: len(u)], M5_QUANTILES, u), args.repeats
    )
    rows.append((f"quantile_function ({len(u)} series)", seconds, float(np.asarray(drawn).sum())))
    calibrator = _calibrator(np.random.default_rng(3))
    seconds, remapped = _median_seconds(lambda: calibrator.remap_paths(paths), args.repeats)
    rows.append(("remap_paths", seconds, float(np.asarray(remapped, dtype=np.float64).sum())))
    print(f"{args.series} series x {args.paths} paths x {args.horizon} days, median of {args.repeats}")
    print(f"{'step':<34}{'seconds':>10}{'checksum':>22}")
    for name, secs, checksum in rows:
        print(f"{name:<34}{secs:>10.2f}{checksum:>22.6f}")


if __name__ == "__main__":
    main()
