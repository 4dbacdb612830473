"""Charts of the drift report and the analyst pages as inline SVG (matplotlib, no pyplot state).

Each chart is drawn on its own :class:`matplotlib.figure.Figure` (no global backend or pyplot state, so
it is safe in server threads) and returned as an ``<svg>`` element to paste into HTML. Text stays text
(``svg.fonttype = none``) and every chart gets its own id salt, so several charts on one page never
share clip-path ids.
"""

from __future__ import annotations

import io
import re

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

NOMINAL = {"coverage_50": 0.50, "coverage_67": 0.67, "coverage_95": 0.95, "coverage_99": 0.99}
_XML_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


def to_svg(fig: Figure, name: str) -> str:
    """Render ``fig`` as an inline ``<svg>`` element (no XML prolog, no DOCTYPE).

    Args:
        fig: The figure.
        name: A name unique on the page: it salts the element ids.
    """
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
        # No metadata block: it only carries links to RDF vocabularies, and the report must name no URL.
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    svg = _XML_PROLOG.sub("", buf.getvalue(), count=1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" class="chart" ', 1)


def _empty(message: str, name: str) -> str:
    fig = Figure(figsize=(6, 1.2))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#555")
    return to_svg(fig, name)


def _weighted(frame: pd.DataFrame, by: str, columns: list[str]) -> pd.DataFrame:
    """Mean of ``columns`` per ``by`` weighted by ``n_days`` (several runs may score the same week)."""
    w = frame["n_days"].astype(float)
    parts = {c: (frame[c].astype(float) * w).groupby(frame[by], observed=True).sum()
             / w.groupby(frame[by], observed=True).sum()
             for c in columns if c in frame}
    return pd.DataFrame(parts).sort_index()


def coverage_chart(accuracy: pd.DataFrame) -> str:
    """Realized coverage of each central interval per week, with its nominal level dashed."""
    total = accuracy[accuracy["segment"] == "all"] if len(accuracy) else accuracy
    if total.empty:
        return _empty("No realized accuracy yet: no published forecast day has actuals.", "coverage")
    cols = [c for c in NOMINAL if c in total and total[c].notna().any()]
    weekly = _weighted(total, "week", cols)
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    for i, col in enumerate(cols):
        color = f"C{i}"
        label = col.replace("_", " ")
        ax.plot(pd.to_datetime(weekly.index), weekly[col], marker="o", color=color, label=label)
        ax.axhline(NOMINAL[col], color=color, linestyle="--", linewidth=0.8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share of actuals inside")
    ax.set_title("Realized interval coverage by week (dashed: nominal)")
    ax.legend(fontsize=8, ncol=4, loc="lower left")
    fig.autofmt_xdate()
    return to_svg(fig, "coverage")


def spl_chart(accuracy: pd.DataFrame) -> str:
    """Mean scaled pinball loss per segment over every scored week."""
    seg = accuracy[accuracy["segment"] != "all"] if len(accuracy) else accuracy
    if seg.empty:
        return _empty("No realized accuracy yet.", "spl")
    spl = _weighted(seg, "segment", ["mean_spl"])["mean_spl"]
    fig = Figure(figsize=(7.5, 3.0))
    ax = fig.add_subplot()
    ax.bar(spl.index.astype(str), spl.to_numpy(), color="#4c72b0")
    ax.set_ylabel("mean SPL (lower is better)")
    ax.set_title("Realized scaled pinball loss by segment")
    return to_svg(fig, "spl")


def psi_heatmap(input_drift: pd.DataFrame) -> str:
    """PSI of each feature (rows) in each segment (columns), ``all`` first."""
    if input_drift.empty:
        return _empty("No input drift computed.", "psi")
    grid = input_drift.pivot_table(index="feature", columns="segment", values="psi", aggfunc="first")
    cols = ["all", *sorted(c for c in grid.columns if c != "all")]
    grid = grid.reindex(columns=[c for c in cols if c in grid.columns])
    values = grid.to_numpy(dtype=float)
    fig = Figure(figsize=(1.2 + 0.65 * grid.shape[1], 0.8 + 0.32 * grid.shape[0]))
    ax = fig.add_subplot()
    image = ax.imshow(np.nan_to_num(values, nan=0.0), cmap="YlOrRd", vmin=0.0, vmax=0.5, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index], fontsize=8)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "-" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                color="white" if v > 0.3 else "black")
    fig.colorbar(image, ax=ax, label="PSI (0.1 watch, 0.25 act)")
    ax.set_title("Input drift: PSI by feature and segment")
    return to_svg(fig, "psi")


def volatility_chart(shifts: pd.DataFrame) -> str:
    """CV before against CV after of each volatility shift, and the shifts per week."""
    if shifts.empty:
        return _empty("No volatility shift inside the windows.", "volatility")
    fig = Figure(figsize=(8, 3.2))
    ax, ax2 = fig.subplots(1, 2)
    before, after = shifts["cv_before"].astype(float), shifts["cv_after"].astype(float)
    ax.scatter(before, after, s=10, alpha=0.6, rasterized=len(shifts) > 500)
    top = float(np.nanmax([before.max(), after.max(), 0.1])) * 1.1
    ax.plot([0, top], [0, top], color="#888", linestyle="--", linewidth=0.8)
    ax.set_xlabel("CV before")
    ax.set_ylabel("CV after")
    ax.set_title("Volatility shifts")
    weeks = pd.to_datetime(shifts["changed_at"]).dt.to_period("W").dt.start_time.value_counts().sort_index()
    ax2.bar(weeks.index, weeks.to_numpy(), width=5, color="#dd8452")
    ax2.set_title("Shifts by week of change")
    ax2.tick_params(axis="x", labelrotation=45, labelsize=7)
    return to_svg(fig, "volatility")


def demand_chart(demand: pd.DataFrame) -> str:
    """Recent / reference ratio of mean demand and of median CV per segment."""
    if demand.empty:
        return _empty("No demand drift computed.", "demand")
    x = np.arange(len(demand))
    fig = Figure(figsize=(7.5, 3.0))
    ax = fig.add_subplot()
    ax.bar(x - 0.2, demand["level_ratio"].astype(float), width=0.4, label="level ratio")
    ax.bar(x + 0.2, demand["cv_ratio"].astype(float), width=0.4, label="CV ratio")
    ax.axhline(1.0, color="#555", linewidth=0.8)
    ax.set_xticks(x, demand["segment"].astype(str), rotation=45, ha="right", fontsize=8)
    ax.set_title("Demand drift: recent / reference")
    ax.legend(fontsize=8)
    return to_svg(fig, "demand")
