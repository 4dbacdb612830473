"""Real-demand replay of the replenishment policies: the classic frontier, saving at equal fill, total cost.

Replays the last ``--days`` days (182) of real sales (m5-tiny: 280 item x store series with prices)
with suppliers and receipts simulated from known lead-time laws
(:mod:`features.synthetic.suppliers_for_sales`: fast reliable domestic, a domestic quoting 4 days and
delivering in ~9, a long import, an unreliable import), re-planning every ``--replan-days`` (28).
ALL_JIT, ALL_SAFETY_STOCK (0.95), CLASSIC_BY_CLASS and the classic sweep
``ALL_SAFETY_STOCK@0.8 ... @0.99`` plan from the recent-demand bootstrap; BLENDED plans from each
``--forecasters`` entry, re-fitted at every re-plan in the re-fit profile of
:mod:`forecasting.inventory.replay_forecasters` (the one ``blendcast simulate`` uses). On the synthetic
catalogue (``--dataset synthetic``) the true demand is replayed and ``oracle`` (the generator's true
mean and noise law, ``benchmarks/_oracle.py``) separates the forecasts' share of the gap from the rules'.

Printed per forecaster: the frontier table (every policy at its own fill against the classic curve,
total cost = holding + lost margin), per-class realized cycle service vs target, and a summary
against the targets (classes within +-2 points, >= 10% saving at equal fill, lowest total cost,
stockout days <= half of ALL_JIT's).

Run (heavy, one at a time): ``flock /tmp/blendcast-heavy.lock .venv/bin/python
benchmarks/policy_replay.py --dataset m5 --forecasters combination,bootstrap``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from features.dataset import Dataset
from features.importers.m5 import import_m5
from features.synthetic import GroundTruth, generate_catalogue
from features.synthetic.suppliers_for_sales import simulate_suppliers
from features.validation import build_dataset
from forecasting.inventory.frontier import (
    calibration_table,
    class_service,
    compare_to_frontier,
    frontier_table,
    service_table,
)
from forecasting.inventory.replay_forecasters import REPLAY_FORECASTERS, replay_forecaster
from forecasting.inventory.rules import Rules, load_rules
from forecasting.inventory.simulation_kpis import write_json
from forecasting.inventory.simulator import (
    ALL_JIT,
    ALL_SAFETY_STOCK,
    BLENDED,
    CLASSIC_BY_CLASS,
    SimulationConfig,
    simulate,
)
from models.base import Forecaster

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks' shared helpers (also under -P)
from _oracle import OracleForecaster

console = Console(width=190)
log = logging.getLogger("benchmarks.policy_replay")
LEVELS = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
M5_DIR = Path("/work/shared/data/m5-tiny")


def load(dataset: str, history_days: int, seed: int,
         skus: int) -> tuple[Dataset, pd.DataFrame | None, GroundTruth | None]:
    """The dataset to replay, its true demand (synthetic only) and the synthetic truth (or None)."""
    if dataset == "m5":
        tables = import_m5(M5_DIR)
        sales = tables["sales"]
        keep = sales["date"] > sales["date"].max() - pd.Timedelta(days=history_days)
        sales = sales[keep].reset_index(drop=True)
        tables = {**{k: v for k, v in tables.items() if k != "sales"}, "sales": sales,
                  **simulate_suppliers(sales, seed=seed).tables()}
        return build_dataset(tables), None, None
    catalogue = generate_catalogue(skus, 3, history_days, seed)
    return build_dataset(catalogue.tables), catalogue.truth.mean, catalogue.truth


def forecaster_for(name: str, truth: GroundTruth | None, n_jobs: int, seed: int) -> Forecaster | None:
    if name == "oracle":
        if truth is None:
            raise SystemExit("--forecasters oracle needs --dataset synthetic (it reads the truth).")
        assert truth.mean is not None
        return OracleForecaster(truth_mean=truth.mean[["sku", "channel", "date", "mean"]],
                                truth_series=truth.series)
    return replay_forecaster(name, n_jobs=n_jobs, random_state=seed)


def summary_row(name: str, kpis: pd.DataFrame, rules: Rules, seconds: float) -> dict[str, Any]:
    comparison = compare_to_frontier(kpis).set_index("policy")
    blended, jit = comparison.loc[BLENDED], comparison.loc[ALL_JIT]
    service = class_service(kpis, rules.service_levels, (BLENDED,)).set_index("class")
    classic_best = comparison[comparison.index.str.startswith(ALL_SAFETY_STOCK)]["total_cost"].min()
    row: dict[str, Any] = {
        "forecaster": name, "fill": blended["fill_rate"], "saving": blended["saving_at_equal_fill"],
        "extrapolated": bool(blended["extrapolated"]), "cost_rank": int(blended["cost_rank"]),
        "cost_vs_best_classic": blended["total_cost"] / classic_best - 1.0,
        "stockout_vs_jit": blended["stockout_rate"] / max(jit["stockout_rate"], 1e-12), "seconds": seconds,
    }
    for klass in service.index:
        row[f"gap_{klass}"] = service.loc[klass, "gap_points"]
    return row


def summary_table(rows: list[dict[str, Any]], dataset: str) -> Table:
    table = Table(title=f"BLENDED against the targets ({dataset})")
    gaps = sorted({k for r in rows for k in r if k.startswith("gap_")})
    for col in ("forecaster", "fill %", *[f"class {g[4:]} gap pts" for g in gaps], "saving at equal fill",
                "cost rank", "cost vs best classic", "stockout days vs JIT", "seconds"):
        table.add_column(col, justify="left" if col == "forecaster" else "right")
    for r in rows:
        saving = f"{100 * r['saving']:+.1f}%" + (" (extrap.)" if r["extrapolated"] else "")
        table.add_row(str(r["forecaster"]), f"{100 * r['fill']:.2f}", *[f"{r[g]:+.1f}" for g in gaps], saving,
                      str(r["cost_rank"]), f"{100 * r['cost_vs_best_classic']:+.1f}%",
                      f"{100 * r['stockout_vs_jit']:.0f}%", f"{r['seconds']:.0f}")
    table.caption = ("targets: class gaps within +-2 pts, saving >= +10%, cost rank 1, stockout days <= 50% "
                     "of ALL_JIT's")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("m5", "synthetic"), default="m5")
    parser.add_argument("--forecasters", default="combination,bootstrap",
                        help=f"Comma-separated among {', '.join(REPLAY_FORECASTERS)}, oracle (synthetic).")
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--history-days", type=int, default=730, help="Days of sales kept before the end.")
    parser.add_argument("--replan-days", type=int, default=28)
    parser.add_argument("--n-paths", type=int, default=200)
    parser.add_argument("--skus", type=int, default=100, help="Synthetic SKUs (x 3 channels).")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--rules", type=Path, default=None, help="Rules file of BLENDED.")
    parser.add_argument("--calibration-origins", type=int, default=3,
                        help="Rolling origins before the replay warming the lead-time-demand calibration up.")
    parser.add_argument("--no-change-cap", action="store_true", help="BLENDED re-plans without the cap.")
    parser.add_argument("--no-ltd-calibration", action="store_true",
                        help="BLENDED plans at the class targets without the lead-time-demand calibration.")
    parser.add_argument("--out", type=Path, default=None, help="Directory for kpis per forecaster.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    data, demand, truth = load(args.dataset, args.history_days, args.seed, args.skus)
    rules = load_rules(args.rules)
    console.print(f"{args.dataset}: {len(data.series())} series, {args.days} days replayed, re-plan every "
                  f"{args.replan_days} days, classic sweep {LEVELS}")
    config = SimulationConfig(days=args.days, n_paths=args.n_paths, seed=args.seed,
                              replan_days=args.replan_days, classic_levels=LEVELS,
                              ltd_calibration=not args.no_ltd_calibration, change_cap=not args.no_change_cap,
                              calibration_origins=args.calibration_origins,
                              policies=(ALL_JIT, ALL_SAFETY_STOCK, CLASSIC_BY_CLASS, BLENDED))
    rows = []
    for name in [n.strip() for n in args.forecasters.split(",") if n.strip()]:
        start = time.perf_counter()
        model = forecaster_for(name, truth, args.n_jobs, args.seed)
        result = simulate(data, rules, config, demand=demand, forecaster=model,
                          on_replan=lambda done, total, as_of, name=name: log.info(
                              "%s: re-plan %d/%d as of %s", name, done, total, as_of.date()))
        seconds = time.perf_counter() - start
        console.print(frontier_table(compare_to_frontier(result.kpis),
                                     f"BLENDED from {name}: against the classic frontier ({args.dataset})"))
        console.print(service_table(class_service(result.kpis, rules.service_levels)))
        if not result.calibration.empty:
            console.print(calibration_table(result.calibration, f"Lead-time demand calibration ({name})"))
        rows.append(summary_row(name, result.kpis, rules, seconds))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            write_json(result.kpis, args.out / f"kpis_{args.dataset}_{name}.json",
                       {**config.model_dump(), "forecaster": name})
    console.print(summary_table(rows, args.dataset))


if __name__ == "__main__":
    main()
