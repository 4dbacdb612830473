"""One picture of a synthetic catalogue: a series of each kind next to the truth that shaped it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from features.synthetic.types import Catalogue


def plot_overview(cat: Catalogue, path: str | Path) -> Path:
    """Save a 2x3 overview PNG of ``cat`` to ``path``.

    Panels: a busy smooth series with its true mean, a gift-set series with its spike windows, a
    volatility shift around its change date, a lumpy wholesale series, the revenue Pareto curve and
    the suppliers' measured lead times against their promises.
    """
    fig = Figure(figsize=(16, 8.5), layout="constrained")  # Agg canvas: no pyplot global state
    axes = fig.subplots(2, 3).ravel()
    sales = cat.sales
    series = cat.truth.series
    _smooth(axes[0], cat, series)
    _gift(axes[1], cat)
    _shift(axes[2], cat)
    _lumpy(axes[3], sales, series)
    _pareto(axes[4], sales)
    _lead_times(axes[5], cat)
    for ax in axes[:4]:
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    meta = cat.truth.meta
    fig.suptitle(
        f"Synthetic catalogue: {meta.get('n_skus')} SKUs x {meta.get('n_channels')} channels x "
        f"{meta.get('n_days')} days, seed {meta.get('seed')}"
    )
    out = Path(path)
    fig.savefig(out, dpi=90)
    return out


def _rows(cat: Catalogue, sku: str, channel: str) -> pd.DataFrame:
    sales = cat.sales
    rows = sales[(sales["sku"] == sku) & (sales["channel"] == channel)]
    mean = cat.truth.mean
    if mean is not None:
        truth = mean[(mean["sku"] == sku) & (mean["channel"] == channel)]
        rows = rows.assign(mean=truth["mean"].to_numpy())
    return rows


def _empty(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "none in this catalogue", ha="center", va="center", transform=ax.transAxes)


def _smooth(ax: Axes, cat: Catalogue, series: pd.DataFrame) -> None:
    smooth = series[(series["pattern"] == "smooth") & ~series["is_gift_set"] & ~series["volatility_shift"]]
    if smooth.empty:
        return _empty(ax, "smooth series")
    top = smooth.nlargest(1, "level").iloc[0]
    rows = _rows(cat, top["sku"], top["channel"])
    ax.plot(rows["date"], rows["units"], lw=0.5, color="0.6", label="units")
    if "mean" in rows:
        ax.plot(rows["date"], rows["mean"], lw=0.8, color="C0", label="true mean")
    out = rows[rows["in_stock"] == 0]
    ax.scatter(out["date"], out["units"], s=8, color="C3", label="stockout day", zorder=3)
    ax.set_title(f"busiest smooth series {top['sku']} / {top['channel']}")
    ax.legend(fontsize=7)
    return None


def _gift(ax: Axes, cat: Catalogue) -> None:
    spikes = cat.truth.spikes
    seen = spikes[spikes["in_history"]]
    if seen.empty:
        return _empty(ax, "gift-set spikes")
    first = seen.iloc[0]
    rows = _rows(cat, first["sku"], first["channel"])
    ax.plot(rows["date"], rows["units"], lw=0.6, color="0.5", label="units")
    windows = spikes[(spikes["sku"] == first["sku"]) & (spikes["channel"] == first["channel"])]
    for i, window in enumerate(windows.to_dict("records")):
        label = "spike window" if i == 0 else None
        ax.axvspan(window["start"], window["end"], color="C1", alpha=0.2, label=label)
        ax.axvline(window["peak"], color="C1", lw=0.8)
    ax.set_xlim(rows["date"].min(), rows["date"].max())
    ax.set_title(f"gift set {first['sku']} / {first['channel']} (uplift x{first['uplift']:.1f})")
    ax.legend(fontsize=7)
    return None


def _shift(ax: Axes, cat: Catalogue) -> None:
    shifts = cat.truth.volatility_shifts
    if shifts.empty:
        return _empty(ax, "volatility shifts")
    first = shifts.iloc[0]
    rows = _rows(cat, first["sku"], first["channel"])
    ax.plot(rows["date"], rows["units"], lw=0.5, color="0.4")
    ax.axvline(first["changed_at"], color="C3", lw=1.2, label="changed_at")
    ax.set_title(
        f"volatility shift {first['sku']} / {first['channel']}: "
        f"CV {first['cv_before']:.2f} -> {first['cv_after']:.2f}"
    )
    ax.legend(fontsize=7)
    return None


def _lumpy(ax: Axes, sales: pd.DataFrame, series: pd.DataFrame) -> None:
    lumpy = series[series["pattern"] == "lumpy"]
    if lumpy.empty:
        return _empty(ax, "lumpy (wholesale) series")
    top = lumpy.nlargest(1, "level").iloc[0]
    rows = sales[(sales["sku"] == top["sku"]) & (sales["channel"] == top["channel"])]
    ax.vlines(rows["date"], 0, rows["units"], lw=0.8, color="C2")
    zero = float((rows["units"] == 0).mean())
    ax.set_title(f"lumpy {top['sku']} / {top['channel']}: {zero:.0%} zero days")
    return None


def _pareto(ax: Axes, sales: pd.DataFrame) -> None:
    revenue = ((sales["units"] * sales["price"]).groupby(sales["sku"], observed=True).sum()
               .sort_values(ascending=False))
    share = np.cumsum(revenue.to_numpy()) / max(float(revenue.sum()), 1e-9)
    rank = np.arange(1, len(share) + 1) / len(share)
    ax.plot(rank, share, color="C0")
    ax.axvline(0.2, color="0.6", ls="--")
    top = share[max(int(0.2 * len(share)) - 1, 0)]
    ax.set_title(f"revenue concentration: top 20% of SKUs make {top:.0%}")
    ax.set_xlabel("share of SKUs (by revenue rank)")
    ax.set_ylabel("cumulative share of revenue")


def _lead_times(ax: Axes, cat: Catalogue) -> None:
    receipts = cat.tables["receipts"]
    truth = cat.truth.suppliers.set_index("supplier")
    lead = (receipts["received_on"] - receipts["ordered_on"]).dt.days
    names = sorted(receipts["supplier"].unique())[:12]
    if not names:
        return _empty(ax, "supplier lead times")
    ax.boxplot([lead[receipts["supplier"] == s].to_numpy() for s in names], tick_labels=names)
    ax.scatter(range(1, len(names) + 1), truth.loc[names, "promised_lead_time_days"], marker="_", s=300,
               color="C3", label="promised", zorder=3)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.set_title("lead time: measured (box) vs promised (red), days")
    ax.legend(fontsize=7)
    return None
