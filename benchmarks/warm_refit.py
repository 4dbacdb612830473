"""LightGBM refitted warm vs cold: what a combination's final fit gains and costs.

Per dataset (the holdouts of ``benchmarks/accuracy.py``): LightGBM fitted cold on the history minus
``--gap`` days, then brought to the end of the history three ways and scored on the 28 held-out days:
re-anchored (``refresh``: the old boosters, features at the new origin), refitted warm (``refit``: the
old boosters continued for ``warm_rounds`` on at most the last ``warm_days`` days, and with ``+OVERLAP``
only on the days after the earlier fit and OVERLAP days before it) with each setting given, and fitted
cold on the whole history. Prints WSPL, 95% and 99% interval coverage and seconds.

    .venv/bin/python benchmarks/warm_refit.py
    .venv/bin/python benchmarks/warm_refit.py --datasets m5-tiny --settings 30x182+35,30x182,50x365
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import pandas as pd

from features.dataset import Dataset
from features.schema import M5_QUANTILES
from models.lightgbm_quantile import LightGBMQuantile

sys.path.append(str(Path(__file__).resolve().parent))  # the accuracy benchmark's splits and scores
from accuracy import HORIZON, _score, m5_split, retail_split, synthetic_split


def _row(label: str, how: str, model: LightGBMQuantile, actuals: pd.DataFrame, seconds: float) -> dict:
    scores = _score(model.predict(HORIZON, M5_QUANTILES), actuals)
    return {"data": label, "final fit": how, "wspl": scores["wspl"], "coverage_95": scores["coverage_95"],
            "coverage_99": scores["coverage_99"], "seconds": seconds}


def compare(label: str, history: Dataset, actuals: pd.DataFrame, gap: int,
            settings: list[tuple[int, int, int | None]], n_jobs: int) -> pd.DataFrame:
    """The rows of one dataset: re-anchored, each warm setting, cold."""
    rows = []
    earlier = LightGBMQuantile(n_jobs=n_jobs).fit(history.truncate(history.end_date - pd.Timedelta(days=gap)))
    t0 = time.perf_counter()
    rows.append(_row(label, "re-anchored", earlier.refresh(history), actuals, time.perf_counter() - t0))
    for rounds, days, overlap in settings:
        t0 = time.perf_counter()
        warm = earlier.set_params(warm_rounds=rounds, warm_days=days,
                                  warm_overlap_days=overlap).refit(history)
        seconds = time.perf_counter() - t0
        how = f"warm {rounds} rounds x {days} days" + ("" if overlap is None else f", overlap {overlap}")
        rows.append(_row(label, how, warm, actuals, seconds))
    t0 = time.perf_counter()
    cold = LightGBMQuantile(n_jobs=n_jobs).fit(history)
    rows.append(_row(label, "cold", cold, actuals, time.perf_counter() - t0))
    return pd.DataFrame(rows)


def _setting(text: str) -> tuple[int, int, int | None]:
    """``"30x182+35"`` -> (30, 182, 35); ``"30x182"`` -> (30, 182, None)."""
    rounds, rest = text.split("x")
    days, _, overlap = rest.partition("+")
    return int(rounds), int(days), int(overlap) if overlap else None


def main() -> None:
    """Command-line entry: print one table over the datasets."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="m5-tiny,synthetic,retail")
    parser.add_argument("--settings", default="30x182+35,30x182,30x365",
                        help="Warm settings as ROUNDSxDAYS or ROUNDSxDAYS+OVERLAP, comma-separated")
    parser.add_argument("--gap", type=int, default=56, help="Days between the earlier fit and the end")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    settings = [_setting(s) for s in args.settings.split(",") if s]
    splits = {"m5-tiny": m5_split, "synthetic": lambda: synthetic_split(100, 3, 730, 0),
              "retail": retail_split}
    tables = []
    for label in (d.strip() for d in args.datasets.split(",") if d.strip()):
        tables.append(compare(label, *splits[label](), args.gap, settings, args.n_jobs))
        with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
            print(tables[-1].to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
