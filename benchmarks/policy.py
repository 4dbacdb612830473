"""Benchmark of the inventory policy engine on a synthetic catalogue.

1. Simulates the last ``--days`` days of a synthetic catalogue (>= 2,000 SKU-channels by default)
   under ALL_JIT, ALL_SAFETY_STOCK (classic formula at 0.95) and BLENDED, on the generator's true
   uncensored demand, and prints the KPI table per policy and per ABC class.

   Who forecasts what (the comparison is classic practice against this engine):

   - ALL_JIT, ALL_SAFETY_STOCK and CLASSIC_BY_CLASS plan from classic estimates: the mean and spread
     of recent demand (a weekday bootstrap of the last 8 weeks, 26 for sparse series), re-estimated
     at every re-plan. ALL_SAFETY_STOCK is the textbook formula at one service level, 0.95, a common
     single company-wide target and the middle of the default rules' A range (95-98%).
   - BLENDED plans from this engine's forecast distribution: a ``Combination`` of the global
     ``LightGBMQuantile`` (calendar, yearly position, events, promotions, prices, intermittency),
     TSB and seasonal naive, chosen per demand segment on a 28-day holdout and calibrated on it,
     re-fitted on the data up to the day before every re-plan, its sample paths feeding the
     distribution-based reorder points. ``--blended-forecaster lightgbm`` uses the LightGBM model
     alone (uncalibrated); ``bootstrap`` gives BLENDED the classic estimates, and ``oracle`` the
     generator's true mean and noise law (``benchmarks/_oracle.py``: the best any forecaster could
     do), to separate what the forecasts and what the rules contribute.
2. Checks the targets: BLENDED meets each class's cycle-service target within 2 points; holds >= 15%
   less average inventory value than ALL_SAFETY_STOCK at equal or better overall fill rate; has at
   most half of ALL_JIT's stockout days.
3. Times ``compute_policies`` for ``--timing-series`` SKU-channels given their sample paths.

Run: ``.venv/bin/python benchmarks/policy.py [--skus 700] [--channels 3] [--days 365] [--out DIR]``;
``--replan-days 7`` re-plans every policy at every weekly review, as the weekly job does (28 by default
keeps the 13 re-fits of the forecaster affordable).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.synthetic import GroundTruth, generate_catalogue
from features.validation import build_dataset
from forecasting.inventory.policy import compute_policies
from forecasting.inventory.rules import load_rules
from forecasting.inventory.simulation_kpis import kpi_table, write_chart, write_json
from forecasting.inventory.simulator import (
    ALL_JIT,
    ALL_SAFETY_STOCK,
    BLENDED,
    CLASSIC_BY_CLASS,
    SimulationConfig,
    simulate,
    weekly_bootstrap_paths,
)
from models.base import Forecaster, SamplePaths
from models.baselines import SeasonalNaive
from models.combination import Combination
from models.intermittent import TSBForecaster
from models.lightgbm_quantile import LightGBMQuantile

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks' shared helpers (also under -P)
from _oracle import OracleForecaster

console = Console(width=160)
log = logging.getLogger("benchmarks.policy")


def _targets(kpis: pd.DataFrame, service_levels: dict[str, float]) -> Table:
    table = Table(title="Targets")
    for col in ("target", "measured", "met"):
        table.add_column(col, justify="left" if col == "target" else "right")
    by = {(r["policy"], r["segment"]): r for r in kpis.to_dict(orient="records")}
    for klass, level in service_levels.items():
        if (BLENDED, klass) not in by:
            continue
        csl = float(by[(BLENDED, klass)]["cycle_service_level"])
        table.add_row(f"BLENDED class {klass} cycle service >= {100 * level:.0f}% - 2 pts",
                      f"{100 * csl:.1f}%", "yes" if csl >= level - 0.02 else "NO")
    blended, classic, jit = (by[(p, "ALL")] for p in (BLENDED, ALL_SAFETY_STOCK, ALL_JIT))
    saving = 1.0 - float(blended["avg_inventory_value"]) / float(classic["avg_inventory_value"])
    table.add_row("BLENDED inventory value >= 15% below ALL_SAFETY_STOCK", f"{100 * saving:.1f}% below",
                  "yes" if saving >= 0.15 else "NO")
    table.add_row("... at equal or better overall fill rate",
                  f"{100 * float(blended['fill_rate']):.2f}% vs {100 * float(classic['fill_rate']):.2f}%",
                  "yes" if float(blended["fill_rate"]) >= float(classic["fill_rate"]) else "NO")
    ratio = float(blended["stockout_rate"]) / max(float(jit["stockout_rate"]), 1e-12)
    table.add_row("BLENDED stockout days <= half of ALL_JIT's", f"{100 * ratio:.0f}% of JIT's",
                  "yes" if ratio <= 0.5 else "NO")
    return table


def blended_forecaster(name: str, n_jobs: int, seed: int, path_rho: float | None,
                       truth: GroundTruth) -> Forecaster | None:
    """The forecaster BLENDED re-fits at every re-plan (None: the classic bootstrap).

    Moderate settings keep 13 re-fits on ~2,000 series within minutes on two cores: 8 quantile levels
    (the reorder points read the 0.8-0.97 quantiles of L+R totals, so the upper levels are dense),
    60 rounds at a higher learning rate, 60,000 sampled rows of the last year. ``max_horizon`` 56
    covers most lead times plus the review period; beyond it the quantities repeat the last week.
    ``path_rho`` is the day-to-day correlation of the paths' copula (None: the model estimates it).
    """
    if name == "bootstrap":
        return None
    if name == "oracle":
        assert truth.mean is not None
        return OracleForecaster(truth_mean=truth.mean[["sku", "channel", "date", "mean"]],
                                truth_series=truth.series)
    lightgbm = LightGBMQuantile(quantiles=(0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.995), max_horizon=56,
                            n_estimators=60, learning_rate=0.1, num_leaves=31, min_child_samples=50,
                            train_days=365, max_train_rows=60_000, path_rho=path_rho, n_jobs=n_jobs,
                            random_state=seed)
    if name == "lightgbm":
        return lightgbm
    # What the engine serves: a combination chosen per demand segment on a 28-day holdout and calibrated
    # on it (quantile levels and the spread of totals). ETS is left out to keep 13 re-plans in minutes.
    members = {"lightgbm": lightgbm, "tsb": TSBForecaster(), "seasonal_naive": SeasonalNaive()}
    return Combination(members=members, n_jobs=n_jobs, random_state=seed)


def time_policies(n_skus: int, channels: int, n_paths: int, seed: int) -> tuple[int, float, float]:
    """Seconds ``compute_policies`` takes for a catalogue, given its paths (paths drawn beforehand)."""
    catalogue = generate_catalogue(n_skus, channels, 400, seed + 1)
    data = build_dataset(catalogue.tables)
    rules = load_rules()
    panel = data.panel()
    keys, y = panel.keys.copy(), panel.units
    horizon = 70
    values = weekly_bootstrap_paths(y, horizon, n_paths, 8, np.random.default_rng(seed)).astype(np.float32)
    paths = SamplePaths(keys, data.end_date + pd.Timedelta(days=1), values)
    start = time.perf_counter()
    policies = compute_policies(data, paths, rules)
    elapsed = time.perf_counter() - start
    return len(policies), elapsed, float(policies["order_now"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=700)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--history-days", type=int, default=730)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--n-paths", type=int, default=200)
    parser.add_argument("--replan-days", type=int, default=28, help="Days between re-plans of every policy.")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timing-series", type=int, default=10_000)
    parser.add_argument("--blended-forecaster", choices=("combination", "lightgbm", "bootstrap", "oracle"),
                        default="combination",
                        help="What BLENDED plans from (the baselines always use the classic bootstrap).")
    parser.add_argument("--path-rho", type=float, default=None,
                        help="Copula correlation of the LightGBM paths (default: estimated by the model).")
    parser.add_argument("--n-jobs", type=int, default=2, help="LightGBM threads.")
    parser.add_argument("--out", type=Path, default=None, help="Directory for kpis.json and the chart.")
    parser.add_argument("--rules", type=Path, default=None,
                        help="Rules file of BLENDED (default: the shipped default_rules.toml).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("forecasting.inventory.policy").setLevel(logging.WARNING)
    logging.getLogger("features").setLevel(logging.WARNING)

    start = time.perf_counter()
    catalogue = generate_catalogue(args.skus, args.channels, args.history_days, args.seed)
    data = build_dataset(catalogue.tables)
    log.info("catalogue: %d SKU-channels x %d days in %.1fs", len(data.series()), args.history_days,
             time.perf_counter() - start)
    rules = load_rules(args.rules)
    # CLASSIC_BY_CLASS (the textbook formula at the same class targets) shows how much of BLENDED's
    # result comes from the targets and how much from the distribution-based quantities.
    config = SimulationConfig(days=args.days, n_paths=args.n_paths, seed=args.seed,
                              replan_days=args.replan_days,
                              policies=(ALL_JIT, ALL_SAFETY_STOCK, CLASSIC_BY_CLASS, BLENDED))
    start = time.perf_counter()
    forecaster = blended_forecaster(args.blended_forecaster, args.n_jobs, args.seed, args.path_rho,
                                    catalogue.truth)
    console.print(f"BLENDED plans from: {args.blended_forecaster} re-fitted every {config.replan_days} days; "
                  "ALL_JIT / ALL_SAFETY_STOCK / CLASSIC_BY_CLASS from the recent-demand bootstrap")
    result = simulate(data, rules, config, demand=catalogue.truth.mean, forecaster=forecaster)
    sim_seconds = time.perf_counter() - start
    console.print(kpi_table(result.kpis, f"{len(data.series())} SKU-channels, {args.days} days simulated "
                                         f"(true demand), re-planned every {config.replan_days} days"))
    console.print(_targets(result.kpis, rules.service_levels))
    assigned = result.series[result.series["policy"] == BLENDED]["assigned_policy"].value_counts()
    console.print(f"BLENDED assignment at the start: {assigned.to_dict()}")
    console.print(f"simulation wall time {sim_seconds:.1f}s (including {-(-args.days // config.replan_days)} "
                  "re-plans of every policy)")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(result.kpis, args.out / "kpis.json", config.model_dump())
        write_chart(result.kpis, args.out / "inventory_vs_fill_rate.png")
        console.print(f"wrote {args.out / 'kpis.json'} and {args.out / 'inventory_vs_fill_rate.png'}")

    n_skus = -(-args.timing_series // args.channels)
    n, seconds, share = time_policies(n_skus, args.channels, args.n_paths, args.seed)
    console.print(f"compute_policies: {n} SKU-channels x {args.n_paths} paths in {seconds:.1f}s "
                  f"(target <= 60s: {'yes' if seconds <= 60 else 'NO'}); {100 * share:.0f}% order now")


if __name__ == "__main__":
    main()
