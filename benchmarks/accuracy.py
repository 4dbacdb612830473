"""Accuracy benchmark: every model, the combination and statsforecast AutoETS on the same holdout.

Data: m5-tiny (history to d_1885, forecast d_1886..d_1913), a synthetic catalogue and the UCI
online-retail transactions (the 1,054 products with at least 100 selling days, daily; last 28 days
held out each). Prints per model: WSPL (M5 weighted scaled pinball loss over the nine M5 quantiles),
WSPL relative to seasonal naive, mean SPL, coverage of the 50/67/95/99% central intervals, the share
of series whose 28-day total is at or below the 95% quantile of the paths' totals, and wall time; and
``equal_blend``, the equal-weight quantile average of the four members' forecasts (the combination's
yardstick). History is built with the stockout inference the CLI applies by default (no effect where
``in_stock`` is given); the held-out actuals are scored as they are.

    .venv/bin/python benchmarks/accuracy.py [--n-jobs 2] [--synthetic-skus 100] [--retail] [--plot out.png]
    .venv/bin/python benchmarks/accuracy.py --datasets retail --models lightgbm,combination
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.importers.m5 import import_m5
from features.importers.transactions import import_transactions
from features.schema import M5_QUANTILES, quantile_column
from features.stockouts import StockoutInference
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.evaluation.metrics import evaluate, scored_rows, total_coverage
from models.losses import CENTRAL_INTERVALS, interval_hits
from models.registry import make_model

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the Agg backend must be chosen first

log = logging.getLogger("benchmarks.accuracy")
M5_DIR = Path("/work/shared/data/m5-tiny")
RETAIL_FILE = Path("/work/shared/data/online-retail/online_retail.parquet")
RETAIL_MIN_SELLING_DAYS = 100
HORIZON = 28
N_PATHS = 500
MODELS = ("seasonal_naive", "lightgbm", "ets", "tsb", "combination")


def _split(tables: dict[str, pd.DataFrame]) -> tuple[Dataset, pd.DataFrame]:
    """History (stockouts inferred as the CLI does) and the raw actuals of the last 28 days.

    The actuals carry the raw history's sales in ``attrs["history"]``: scores use the M5 scales and
    revenue weights of the data as recorded, whatever the models were shown.
    """
    raw = build_dataset(tables)
    cutoff = raw.end_date - pd.Timedelta(days=HORIZON)
    history = build_dataset({**tables, "sales": tables["sales"][tables["sales"]["date"] <= cutoff]},
                            stockouts=StockoutInference())
    actuals = raw.sales[raw.sales["date"] > cutoff].copy()
    actuals.attrs["history"] = raw.sales[raw.sales["date"] <= cutoff]
    return history, actuals


def _score(fc: pd.DataFrame, actuals: pd.DataFrame) -> dict[str, object]:
    return {str(k): v for k, v in evaluate(fc, actuals, actuals.attrs["history"]).iloc[0].items()}


def m5_split() -> tuple[Dataset, pd.DataFrame]:
    """m5-tiny history to d_1885 and the actuals of d_1886..d_1913."""
    return _split(import_m5(M5_DIR))


def retail_split() -> tuple[Dataset, pd.DataFrame]:
    """Online retail (daily, SKU = description): products with >= 100 selling days, last 28 days held out."""
    sales = import_transactions(RETAIL_FILE, sku="Description")["sales"]
    selling = (sales["units"] > 0).groupby([sales["sku"], sales["channel"]], observed=True).sum()
    keep = selling[selling >= RETAIL_MIN_SELLING_DAYS].reset_index()[["sku", "channel"]]
    return _split({"sales": sales.merge(keep, on=["sku", "channel"])})


def synthetic_split(n_skus: int, n_channels: int, n_days: int, seed: int) -> tuple[Dataset, pd.DataFrame]:
    """A synthetic catalogue with its last 28 days held out."""
    return _split(dict(generate_catalogue(n_skus, n_channels, n_days, seed).tables))


def actual_totals(actuals: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """28-day totals per series in ``keys`` order; NaN when a day is censored or missing."""
    cens = actuals["censored"] if "censored" in actuals else pd.Series(False, index=actuals.index)
    agg = actuals.assign(c=cens).groupby(["sku", "channel"], observed=True).agg(
        total=("units", "sum"), n=("units", "size"), c=("c", "any")
    )
    agg.loc[agg["c"] | (agg["n"] < HORIZON), "total"] = np.nan
    return keys.merge(agg["total"].reset_index(), on=["sku", "channel"], how="left")["total"].to_numpy()


def run_model(name: str, history: Dataset, actuals: pd.DataFrame, n_jobs: int,
              forecasts: dict[str, pd.DataFrame], cache: Path | None = None) -> dict[str, object]:
    """Fit, forecast and score one registered model (its forecast is kept in ``forecasts``).

    With ``cache``, a model already run there (same dataset label in the file name) is read back
    instead of refitted, so one table can be made from several shorter runs.
    """
    if cache is not None and (cache / f"{name}.parquet").exists():
        forecasts[name] = pd.read_parquet(cache / f"{name}.parquet")
        log.info("%s: forecast read from %s", name, cache)
        kept = pd.read_json(cache / f"{name}.json", typ="series")
        return {**_score(forecasts[name], actuals), "total95_28": kept["total95_28"],
                "seconds": kept["seconds"]}
    scores = _fit_and_score(name, history, actuals, n_jobs, forecasts)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        forecasts[name].to_parquet(cache / f"{name}.parquet")
        pd.Series({k: scores[k] for k in ("total95_28", "seconds")}).to_json(cache / f"{name}.json")
    return scores


def _fit_and_score(name: str, history: Dataset, actuals: pd.DataFrame, n_jobs: int,
                   forecasts: dict[str, pd.DataFrame]) -> dict[str, object]:
    params = {"n_jobs": n_jobs} if name in ("lightgbm", "ets", "combination") else {}
    model = make_model(name, **params)
    t0 = time.perf_counter()
    model.fit(history)
    fc = model.predict(HORIZON, M5_QUANTILES)
    paths = model.sample_paths(HORIZON, n_paths=N_PATHS, random_state=0)
    seconds = time.perf_counter() - t0
    q95 = np.quantile(paths.totals(HORIZON), 0.95, axis=1)
    scores = _score(fc, actuals)
    scores["total95_28"] = total_coverage(q95, actual_totals(actuals, paths.keys))
    scores["seconds"] = seconds
    forecasts[name] = fc
    if name == "combination":
        log.info("combination: shrinkage towards equal weights %.2f (held-out SPL per shrinkage %s); "
                 "seconds per member %s; weights per segment:\n%s",
                 getattr(model, "shrinkage_", float("nan")),
                 getattr(model, "cv_loss_", {}), getattr(model, "fit_seconds_", {}),
                 getattr(model, "weight_table_", pd.DataFrame()).to_string())
    return scores


# Bands of a series' mean 75% quantile (units per day): where sales are a few units, a closed interval
# on counts covers every sale equal to its bounds (a zero lower bound covers each zero day).
VOLUME_BANDS: tuple[tuple[float, float, str], ...] = (
    (0.0, 1.0, "q75 < 1/day"), (1.0, 10.0, "q75 1-10/day"), (10.0, np.inf, "q75 >= 10/day"),
)


def coverage_by_volume(fc: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Central-interval coverage per volume band of the series (and over all of them): of the closed
    interval, as scored, and of the open one, which brackets nominal from below for a calibrated forecast
    of counts (see :func:`models.losses.interval_hits`); and the share of rows that are zero sales inside
    the 50% and 67% intervals (what a zero lower bound adds to the closed coverage)."""
    rows = scored_rows(fc, actuals, M5_QUANTILES)
    rows = rows[rows["units"].notna()]
    level = rows.groupby(["sku", "channel"], observed=True)[quantile_column(0.75)].transform("mean")
    out = []
    for lo, hi, name in (*VOLUME_BANDS, (0.0, np.inf, "all")):
        band = rows[(level >= lo) & (level < hi)]
        n_series = band.groupby(["sku", "channel"], observed=True).ngroups
        record: dict[str, object] = {"band": name, "series": n_series, "days": len(band)}
        units = band["units"].to_numpy(float)
        for nominal, (q_lo, q_hi) in CENTRAL_INTERVALS.items():
            if band.empty:
                break
            bounds = (band[quantile_column(q_lo)].to_numpy(float),
                      band[quantile_column(q_hi)].to_numpy(float))
            hits = interval_hits(units, *bounds)
            pct = round(nominal * 100)
            record[f"coverage_{pct}"] = float(hits.mean())
            record[f"open_{pct}"] = float(interval_hits(units, *bounds, closed=False).mean())
            if nominal < 0.9:
                record[f"zero_inside_{pct}"] = float((hits & (units == 0)).mean())
        out.append(record)
    return pd.DataFrame(out)


def equal_blend(
    forecasts: dict[str, pd.DataFrame], history: Dataset, actuals: pd.DataFrame
) -> dict[str, object]:
    """Scores of the equal-weight quantile average of the members' forecasts."""
    members = [forecasts[m] for m in ("seasonal_naive", "lightgbm", "ets", "tsb") if m in forecasts]
    keys = ["sku", "channel", "date"]
    base = members[0][keys].reset_index(drop=True)
    blend = base.copy()
    for col in ["mean", *(quantile_column(q) for q in M5_QUANTILES)]:
        aligned = [base.merge(f, on=keys, how="left")[col].to_numpy(float) for f in members]
        blend[col] = np.mean(aligned, axis=0)
    scores = _score(blend, actuals)
    scores["total95_28"] = np.nan
    scores["seconds"] = np.nan
    return scores


def run_autoets(history: Dataset, actuals: pd.DataFrame, n_jobs: int) -> dict[str, object]:
    """statsforecast AutoETS (season 7) as an outside peer; intervals give the M5 quantiles."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    sales = history.sales
    df = pd.DataFrame(
        {
            "unique_id": sales["sku"].astype(str) + "|" + sales["channel"].astype(str),
            "ds": sales["date"],
            "y": sales["units"].astype(float),
        }
    )
    t0 = time.perf_counter()
    sf = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=n_jobs)
    levels = sorted({round(nominal * 100) for nominal in CENTRAL_INTERVALS})
    out = sf.forecast(df=df, h=HORIZON, level=levels).reset_index(drop=False)
    seconds = time.perf_counter() - t0
    ids = out["unique_id"].astype(str).str.split("|", n=1, expand=True)
    fc = pd.DataFrame({"sku": ids[0], "channel": ids[1], "date": pd.to_datetime(out["ds"])})
    fc["mean"] = out["AutoETS"].clip(lower=0).to_numpy()
    fc[quantile_column(0.5)] = fc["mean"]
    for nominal, (lo, hi) in CENTRAL_INTERVALS.items():
        pct = round(nominal * 100)
        fc[quantile_column(lo)] = out[f"AutoETS-lo-{pct}"].clip(lower=0).to_numpy()
        fc[quantile_column(hi)] = out[f"AutoETS-hi-{pct}"].clip(lower=0).to_numpy()
    scores = _score(fc, actuals)
    scores["total95_28"] = np.nan  # no joint paths: totals cannot be read without adding quantiles
    scores["seconds"] = seconds
    return scores


def benchmark(label: str, history: Dataset, actuals: pd.DataFrame, n_jobs: int,
              models: tuple[str, ...] = MODELS, peer: bool = True,
              cache: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the models, their equal-weight blend and the AutoETS peer on one dataset.

    Returns:
        The scores per model, and the default model's (else the last model's) coverage per volume band.
    """
    rows = []
    forecasts: dict[str, pd.DataFrame] = {}
    for name in ("seasonal_naive", *(m for m in models if m != "seasonal_naive")):
        log.info("[%s] %s: fit + forecast + paths", label, name)
        rows.append({"model": name, **run_model(name, history, actuals, n_jobs, forecasts,
                                                None if cache is None else cache / label)})
        log.info("[%s] %s: WSPL %.4f in %.1fs", label, name, rows[-1]["wspl"], rows[-1]["seconds"])
    if len(set(forecasts) & {"lightgbm", "ets", "tsb"}) == 3:
        rows.append({"model": "equal_blend", **equal_blend(forecasts, history, actuals)})
    if peer:
        log.info("[%s] statsforecast AutoETS", label)
        rows.append({"model": "statsforecast_autoets", **run_autoets(history, actuals, n_jobs)})
    table = pd.DataFrame(rows)
    naive = float(table.loc[table["model"] == "seasonal_naive", "wspl"].iloc[0])
    table.insert(2, "wspl_vs_naive", table["wspl"] / naive)
    table.insert(0, "data", label)
    shown = "combination" if "combination" in forecasts else list(forecasts)[-1]
    return table, coverage_by_volume(forecasts[shown], actuals).assign(model=shown)


def plot(tables: pd.DataFrame, path: Path) -> None:
    """WSPL relative to seasonal naive, and interval coverage against nominal, per dataset."""
    datasets = list(tables["data"].unique())
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 4 * len(datasets)), squeeze=False)
    for row, label in enumerate(datasets):
        t = tables[tables["data"] == label]
        axes[row, 0].barh(t["model"], t["wspl_vs_naive"], color="tab:blue")
        axes[row, 0].axvline(0.75, color="red", ls="--", label="target 0.75")
        axes[row, 0].set_title(f"{label}: WSPL / seasonal naive")
        axes[row, 0].legend()
        nominal = [50, 67, 95, 99]
        for _, r in t.iterrows():
            cover = [100 * r[f"coverage_{n}"] for n in nominal]
            axes[row, 1].plot(nominal, cover, marker="o", label=r["model"])
        axes[row, 1].plot(nominal, nominal, color="black", ls="--", label="nominal")
        axes[row, 1].set_title(f"{label}: interval coverage (%)")
        axes[row, 1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


COLUMNS = ["data", "model", "wspl", "wspl_vs_naive", "mean_spl", "coverage_50", "coverage_67",
           "coverage_95", "coverage_99", "total95_28", "rmsse", "bias", "seconds"]


def show(table: pd.DataFrame, volume: pd.DataFrame) -> None:
    """Print one dataset's table and its coverage per volume band."""
    fmt = "{:.3f}".format
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", fmt):
        print(table[COLUMNS].to_string(index=False), flush=True)
        print("coverage by the series' volume:", flush=True)
        print(volume.to_string(index=False), flush=True)


def main() -> None:
    """Command-line entry: run both datasets and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--synthetic-skus", type=int, default=100, help="SKUs of the synthetic catalogue")
    parser.add_argument("--synthetic-channels", type=int, default=3)
    parser.add_argument("--synthetic-days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=None, help="Write a PNG of WSPL ratios and coverage")
    parser.add_argument("--datasets", default="m5-tiny,synthetic",
                        help="Comma-separated: m5-tiny, synthetic, retail (online retail)")
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated registered models")
    parser.add_argument("--no-peer", action="store_true", help="Skip statsforecast AutoETS")
    parser.add_argument("--cache", type=Path, default=None,
                        help="Folder keeping each model's forecast and scores: models found there are not "
                             "refitted, so a table can be assembled from several shorter runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    splits = {
        "m5-tiny": m5_split,
        "synthetic": lambda: synthetic_split(args.synthetic_skus, args.synthetic_channels,
                                             args.synthetic_days, args.seed),
        "retail": retail_split,
    }
    tables = []
    for label in (d.strip() for d in args.datasets.split(",") if d.strip()):
        table, volume = benchmark(label, *splits[label](), args.n_jobs, models, peer=not args.no_peer,
                                  cache=args.cache)
        tables.append(table)
        show(table, volume)  # print each dataset as soon as it is done
    result = pd.concat(tables, ignore_index=True)
    if args.plot:
        plot(result, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
