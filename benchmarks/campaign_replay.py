"""Past campaigns replayed: does the what-if's window demand match what the promotions really sold?

For every past promotion of a synthetic catalogue (the promotions table's ``expected_uplift`` is what
the planner expected; the generator's true uplift differs), the data is cut 5 days before the start,
a forecaster is fitted on what was known then, and :func:`forecasting.inventory.campaigns.what_if`
predicts the window's demand with the expected uplift. Printed: how often the realized window total
fell inside the predicted 10-90 % range (nominal 80 %), the median and quartiles of realized /
predicted mean, per forecaster.

Run: ``.venv/bin/python benchmarks/campaign_replay.py --skus 40 --days 420 --max 60``.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.schema import M5_QUANTILES
from features.synthetic import generate_catalogue
from features.validation import build_dataset
from forecasting.inventory.campaigns import Campaign, what_if
from models.registry import make_model


def replay(model_name: str, skus: int, days: int, limit: int, seed: int) -> pd.DataFrame:
    """One row per replayed promotion: predicted mean and 10/90 % range, realized total."""
    data = build_dataset(generate_catalogue(skus, 1, days, seed).tables)
    assert data.promotions is not None
    rows = []
    for r in data.promotions.to_dict("records"):
        start, end = pd.Timestamp(r["start"]), pd.Timestamp(r["end"])
        sku, channel = str(r["sku"]), str(r["channel"])
        if start < data.start_date + pd.Timedelta(days=200) or end > data.end_date or (end - start).days > 20:
            continue
        plan = start - pd.Timedelta(days=5)
        forecasts = make_model(model_name).fit(data.truncate(plan)).predict(28, M5_QUANTILES)
        forecasts = forecasts[(forecasts["sku"] == sku) & (forecasts["channel"] == channel)]
        if forecasts.empty:
            continue
        policy = pd.DataFrame({"sku": [sku], "channel": [channel], "service_level": [0.9],
                               "lead_time_mean": [5.0]})
        campaign = Campaign((sku,), (channel,), start, end, float(r["expected_uplift"]) - 1.0)
        series, _ = what_if(campaign, forecasts, M5_QUANTILES, policy, plan, n_paths=2000)
        base = series[series["case"] == "base"].iloc[0]
        sold = data.sales[(data.sales["sku"] == sku) & (data.sales["channel"] == channel)
                          & data.sales["date"].between(start, end)]["units"].sum()
        rows.append({"pred": base["window_demand"], "p10": base["window_p10"], "p90": base["window_p90"],
                     "real": float(sold)})
        if len(rows) >= limit:
            break
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--days", type=int, default=420)
    parser.add_argument("--max", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", default="seasonal_naive,ets")
    args = parser.parse_args()
    table = Table(title=f"Past promotions replayed ({args.skus} SKUs, {args.days} days, seed {args.seed})")
    for col in ("forecaster", "promotions", "inside 10-90 %", "realized / predicted: q25", "median", "q75"):
        table.add_column(col, justify="left" if col == "forecaster" else "right")
    for name in args.models.split(","):
        frame = replay(name, args.skus, args.days, args.max, args.seed)
        inside = ((frame["real"] >= frame["p10"]) & (frame["real"] <= frame["p90"])).mean()
        ratio = (frame["real"] / frame["pred"].where(frame["pred"] > 0)).dropna()
        q = np.quantile(ratio, [0.25, 0.5, 0.75])
        table.add_row(name, str(len(frame)), f"{100 * inside:.0f}%", f"{q[0]:.2f}", f"{q[1]:.2f}",
                      f"{q[2]:.2f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
