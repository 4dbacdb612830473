"""Data health report of a validated :class:`~features.dataset.Dataset`: what a planner checks first."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import Dataset
from features.keys import key_text
from features.schema import SERIES_KEY

SHORT_HISTORY_DAYS = 56
# Plausibility of daily units: a row at least this large that is OUTLIER_RATIO times the series' usual
# busy day (75th percentile of its selling days), or any row above IMPLAUSIBLE_UNITS, is worth a look.
OUTLIER_MIN_UNITS = 1_000.0
OUTLIER_RATIO = 100.0
IMPLAUSIBLE_UNITS = 1e7


def implausible_units(sales: pd.DataFrame) -> np.ndarray:
    """Rows of completed ``sales`` whose units look like a typo or a unit mix-up (e.g. ``1e9``).

    Only rows of at least :data:`OUTLIER_MIN_UNITS` are considered; one counts when it is above
    :data:`IMPLAUSIBLE_UNITS`, or :data:`OUTLIER_RATIO` times its series' 75th percentile of selling
    days. Cheap on big tables: percentiles are computed only for series holding such a row.
    """
    units = sales["units"].to_numpy(dtype=float)
    big = units >= OUTLIER_MIN_UNITS
    if "censored" in sales:
        big &= ~sales["censored"].to_numpy(dtype=bool)
    if not big.any():
        return big
    keys = pd.MultiIndex.from_frame(key_text(sales))
    suspects = keys[big].unique()
    in_suspect = keys.isin(suspects) & (units > 0)
    usual = (
        pd.Series(units[in_suspect], index=keys[in_suspect]).groupby(level=[0, 1]).quantile(0.75)
    )
    ratio_limit = usual.reindex(keys[big]).to_numpy() * OUTLIER_RATIO
    flagged = big.copy()
    flagged[big] = (units[big] > IMPLAUSIBLE_UNITS) | (units[big] > ratio_limit)
    return flagged


def _outlier_warning(sales: pd.DataFrame, mask: np.ndarray) -> str:
    rows = sales.loc[mask, [*SERIES_KEY, "date", "units"]].sort_values("units", ascending=False).head(5)
    examples = "; ".join(
        f"{sku}/{channel} {day:%Y-%m-%d} units={units:g}"
        for sku, channel, day, units in zip(rows["sku"], rows["channel"], rows["date"], rows["units"],
                                            strict=True)
    )
    return (
        f"sales: {int(mask.sum())} implausible units value(s) (>= {OUTLIER_MIN_UNITS:g} and over "
        f"{OUTLIER_RATIO:g}x the series' usual selling day, or above {IMPLAUSIBLE_UNITS:g}), e.g. "
        f"{examples}. Check them: a typo or a unit mix-up teaches the models a demand that never was"
    )


def health_report(dataset: Dataset, *, short_history_days: int = SHORT_HISTORY_DAYS) -> dict[str, Any]:
    """Summarise a dataset: size, coverage, intermittency, censoring and warnings.

    Args:
        dataset: A validated dataset (completed sales).
        short_history_days: Series with less history than this many days count as short.

    Returns:
        A JSON-friendly dict with keys ``series, skus, channels, start, end, rows, zero_share,
        censored_rows, short_series, series_without_sales, implausible_rows, tables, warnings`` and
        ``short_history_days``; ``warnings`` adds a plausibility warning naming implausible units
        (:func:`implausible_units`) to the dataset's own. ``zero_share`` is the share of uncensored
        rows with zero units.
    """
    sales = dataset.sales
    series_id = sales.groupby(list(SERIES_KEY), sort=False, observed=True).ngroup().to_numpy()
    n_series = int(series_id.max()) + 1 if len(series_id) else 0
    censored = sales["censored"].to_numpy(dtype=bool)
    units = sales["units"].to_numpy()
    first = pd.Series(sales["date"].to_numpy()).groupby(series_id).min()
    history_days = (sales["date"].max() - first).dt.days.to_numpy() + 1
    total_units = np.bincount(series_id, weights=np.where(censored, 0.0, units), minlength=n_series)
    uncensored = ~censored
    outliers = implausible_units(sales)
    tables = {
        f.name: len(getattr(dataset, f.name))
        for f in fields(dataset)
        # Tables only: not the warnings, the inferred runs or the private caches (the panel).
        if f.name not in ("warnings", "stockout_runs") and not f.name.startswith("_")
        and getattr(dataset, f.name) is not None
    }
    runs = dataset.stockout_runs
    inferred: list[dict[str, Any]] = []
    if runs is not None and len(runs):
        table = runs.sort_values("days", ascending=False)
        inferred = [
            {"sku": str(sku), "channel": str(channel), "start": str(start.date()), "end": str(end.date()),
             "days": int(days), "recent_mean": round(float(mean), 3), "probability": float(prob)}
            for sku, channel, start, end, days, mean, prob in zip(
                table["sku"], table["channel"], pd.to_datetime(table["start"]), pd.to_datetime(table["end"]),
                table["days"].to_numpy(int), table["recent_mean"].to_numpy(float),
                table["probability"].to_numpy(float), strict=True)
        ]
    return {
        "series": n_series,
        "skus": int(sales["sku"].nunique()),
        "channels": int(sales["channel"].nunique()),
        "start": dataset.start_date.date().isoformat(),
        "end": dataset.end_date.date().isoformat(),
        "rows": len(sales),
        "zero_share": float((units[uncensored] == 0).mean()) if uncensored.any() else float("nan"),
        "censored_rows": int(censored.sum()),
        "short_history_days": short_history_days,
        "short_series": int((history_days < short_history_days).sum()),
        "series_without_sales": int((total_units == 0).sum()),
        "tables": tables,
        "implausible_rows": int(outliers.sum()),
        "stockout_inference": runs is not None,
        "inferred_stockout_runs": inferred,
        "inferred_stockout_days": int(sum(r["days"] for r in inferred)),
        "warnings": [*dataset.warnings, *([_outlier_warning(sales, outliers)] if outliers.any() else [])],
    }


def format_health_report(report: dict[str, Any], *, title: str = "Data health") -> str:
    """Render :func:`health_report` as a plain-text table (one ``name  value`` line per figure)."""
    rows = [
        ("series (sku x channel)", f"{report['series']:,}"),
        ("SKUs", f"{report['skus']:,}"),
        ("channels", f"{report['channels']:,}"),
        ("date range", f"{report['start']} .. {report['end']}"),
        ("sales rows (completed)", f"{report['rows']:,}"),
        ("zero-sales share (uncensored rows)", f"{report['zero_share']:.1%}"),
        ("censored rows (in_stock = 0)", f"{report['censored_rows']:,}"),
        ("inferred stockout runs (days)", (
            f"{len(report.get('inferred_stockout_runs', [])):,} ({report.get('inferred_stockout_days', 0):,})"
            if report.get("stockout_inference") else "off (or in_stock given)")),
        (f"short series (< {report['short_history_days']} days)", f"{report['short_series']:,}"),
        ("series without any sales", f"{report['series_without_sales']:,}"),
    ]
    rows += [(f"table {name}", f"{count:,} rows") for name, count in report["tables"].items()]
    width = max(len(name) for name, _ in rows)
    lines = [title, "=" * len(title), *(f"{name.ljust(width)}  {value}" for name, value in rows)]
    runs = report.get("inferred_stockout_runs", [])
    if runs:
        lines.append(f"longest inferred stockout runs (censored; {len(runs)} in all, longest first):")
        lines += [f"  {r['sku']}/{r['channel']} {r['start']} .. {r['end']} ({r['days']} days, recent mean "
                  f"{r['recent_mean']:g}/day, probability {r['probability']:.1e})" for r in runs[:10]]
    lines.append(f"warnings: {len(report['warnings'])}")
    lines += [f"  - {w}" for w in report["warnings"]]
    return "\n".join(lines)


def plot_health(dataset: Dataset, out_file: Path) -> Path:
    """Save a PNG with the distribution of history length and of zero-sales share per series.

    Args:
        dataset: A validated dataset.
        out_file: Target ``.png`` path; its directory is created.

    Returns:
        ``out_file``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sales = dataset.sales
    grouped = sales.assign(zero=(sales["units"] == 0) & ~sales["censored"]).groupby(
        list(SERIES_KEY), observed=True
    )
    history = (sales["date"].max() - grouped["date"].min()).dt.days + 1
    zero_share = grouped["zero"].mean()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(history, bins=40, color="#4c72b0")
    left.axvline(SHORT_HISTORY_DAYS, color="#c44e52", linestyle="--", label=f"{SHORT_HISTORY_DAYS} days")
    left.set(title="History per series", xlabel="days", ylabel="series")
    left.legend()
    right.hist(zero_share, bins=40, range=(0, 1), color="#55a868")
    right.set(title="Zero-sales share per series", xlabel="share of days with 0 units", ylabel="series")
    fig.tight_layout()
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file
