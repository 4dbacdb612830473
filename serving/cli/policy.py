"""Inventory policy commands: ``policy`` and ``suppliers`` (``simulate``: :mod:`serving.cli.simulate`).

Everything is validated (rules file, data, dates, options) before anything is written; outputs are
written to a temporary file or directory and moved into place, so bad input (exit code 2) leaves
nothing behind.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from models.registry import MODEL_NAMES, MODELS
from serving.cli.common import (
    atomic_file,
    bad_input_exits,
    check_out_file,
    console,
    err_console,
    load_data_as_of,
    setup_logging,
)

if TYPE_CHECKING:
    import pandas as pd

    from features.dataset import Dataset
    from forecasting.inventory.rules import Rules
    from models.base import SamplePaths

log = logging.getLogger(__name__)

DEFAULT_MODEL = "combination"
FALLBACK_MODELS = ("lightgbm", "seasonal_naive")
MAX_HORIZON = 180
OUT_SUFFIXES = (".csv", ".parquet", ".json")


def _write_frame(frame: pd.DataFrame, out: Path) -> None:
    flat = frame.copy()
    if "reasons" in flat:
        flat["reasons"] = flat["reasons"].map("; ".join)
    suffix = out.suffix.lower()
    with atomic_file(out) as tmp:
        if suffix == ".csv":
            flat.to_csv(tmp, index=False)
        elif suffix == ".parquet":
            flat.to_parquet(tmp, index=False)
        else:
            flat.to_json(tmp, orient="records", indent=2, date_format="iso")


def _horizon(data: Dataset, rules: Rules, as_of: pd.Timestamp) -> tuple[int, int]:
    """Days of paths needed (longest plausible lead time + review period) and days to forecast.

    Models forecast at most the project's horizon (``BLENDCAST_HORIZON``, 28 days by default; the
    direct multi-horizon models are trained for it); beyond it the engine repeats each path's last
    week, as documented in :mod:`forecasting.inventory.safety_stock`.
    """
    import numpy as np

    from forecasting.infrastructure.settings import get_settings
    from forecasting.inventory.leadtime import audit_lead_times

    audit = audit_lead_times(data, as_of, rules.lead_time)
    longest = max([int(d.days.max()) for d in audit.distributions.values()]
                  + [int(np.ceil(rules.lead_time.default_lead_time_days * 2))])
    needed = min(longest + rules.review_period_days, MAX_HORIZON)
    return needed, min(needed, get_settings().horizon)


def _fit_paths(
    data: Dataset, model: str | None, horizon: int, n_paths: int, seed: int
) -> tuple[str, SamplePaths, pd.DataFrame]:
    """Fit the requested model (or the default with its fallbacks); its paths and forecast frame.

    The forecast (the weekly job's quantile levels) feeds the spike detector, as in the weekly job.
    """
    from features.schema import M5_QUANTILES
    from models.base import Forecaster
    from models.registry import make_model

    names = [model] if model else [DEFAULT_MODEL, *FALLBACK_MODELS]
    for name in names:
        if name not in MODELS:
            raise ValueError(
                f"--model {name!r} is not a known model. Use one of: {', '.join(sorted(MODELS))}."
            )
    last_error: Exception | None = None
    for name in names:
        valid = MODELS[name]().get_params(deep=False)
        params = {k: v for k, v in (("n_jobs", 1), ("random_state", seed)) if k in valid}
        estimator: Forecaster = make_model(name, **params)
        try:
            with console.status(f"fitting {name} on {len(data.series())} series"):
                estimator.fit(data)
                paths = estimator.sample_paths(horizon, n_paths, random_state=seed)
                return name, paths, estimator.predict(paths.horizon, M5_QUANTILES)
        except Exception as exc:  # a failed model must not stop planning: fall back to the next one
            if model:
                raise
            last_error = exc
            err_console.print(f"[yellow]warning:[/] model {name} failed ({exc}); trying the next one.")
    raise RuntimeError(f"Every model failed; the last error was: {last_error}")


def _policy_table(frame: pd.DataFrame, limit: int, reasons: bool) -> Table:
    table = Table(title=f"Policies ({len(frame)} SKU-channels, first {min(limit, len(frame))} shown)")
    columns = ["sku", "channel", "seg", "policy", "SL", "LT", "SS", "ROP", "OUT", "IP", "order"]
    for col in columns + (["reasons"] if reasons else []):
        left = col in ("sku", "channel", "seg", "policy", "reasons")
        table.add_column(col, justify="left" if left else "right", overflow="fold")
    for r in frame.head(limit).to_dict(orient="records"):
        cells = [
            str(r["sku"]), str(r["channel"]), f"{r['abc']}{r['xyz']} {r['pattern']}", str(r["policy"]),
            f"{r['service_level']:.2f}", f"{r['lead_time_mean']:.1f}", f"{r['safety_stock']:.1f}",
            f"{r['reorder_point']:.1f}", f"{r['order_up_to']:.1f}", f"{r['inventory_position']:.0f}",
            f"{r['order_qty']:.0f}" if r["order_now"] else "-",
        ]
        table.add_row(*cells, *(["; ".join(r["reasons"][1:])] if reasons else []))
    return table


def policy_command(
    data: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    as_of: str = typer.Option(None, "--as-of", help="Plan as of this date (default: last sales day)."),
    rules_file: Path = typer.Option(None, "--rules", help="TOML rules file (default: the shipped rules)."),
    out: Path = typer.Option(None, "--out", help="Write the policies to .csv, .parquet or .json."),
    model: str = typer.Option(None, "--model", help=f"Forecaster: one of {', '.join(MODEL_NAMES)} "
                              f"(default {DEFAULT_MODEL}, falling back to {', '.join(FALLBACK_MODELS)})."),
    n_paths: int = typer.Option(500, "--n-paths", help="Sample paths, >= 50."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    limit: int = typer.Option(40, "--limit", help="Rows shown on screen."),
    reasons: bool = typer.Option(False, "--reasons", help="Show the reasons column on screen."),
) -> None:
    """Segment, assign a policy and compute safety stock, reorder point and order quantity per SKU-channel."""
    from forecasting.inventory.policy import compute_policies, pool_by_sku, prepare_context
    from forecasting.inventory.rules import load_rules
    from forecasting.signals.spikes import detect_spikes

    setup_logging("WARNING")
    with bad_input_exits():
        rules = load_rules(rules_file)
        if out is not None:
            check_out_file(out, OUT_SUFFIXES, ".csv, .parquet or .json", "policies.csv")
        if n_paths < 50:
            raise ValueError(f"--n-paths must be >= 50 for stable quantiles. Got {n_paths}.")
        dataset, date = load_data_as_of(data, as_of)
        needed, horizon = _horizon(dataset, rules, date)
        name, paths, forecasts = _fit_paths(dataset, model, horizon, n_paths, seed)
        # Spike windows as the weekly job reads them, so both assign SEASONAL_HYBRID alike.
        spikes = detect_spikes(dataset, forecasts)
        context = prepare_context(dataset, paths, rules, date, spikes)
        frame = compute_policies(dataset, paths, rules, date, spike_windows=spikes, random_state=seed,
                                 context=context)
        pooled = pool_by_sku(dataset, paths, rules, frame, random_state=seed, context=context)
        if out is not None:
            _write_frame(frame, out)
    console.print(_policy_table(frame, limit, reasons))
    counts = frame["policy"].value_counts().to_dict()
    extended = f" (extended to {needed} days by repeating the last week)" if needed > horizon else ""
    console.print(f"model {name}, {n_paths} paths over {horizon} days{extended}; policies: {counts}; "
                  f"{int(frame['order_now'].sum())} orders due now", highlight=False)
    console.print(f"pooling the channels of each SKU would save {pooled['pooling_saving'].sum():,.0f} units "
                  f"of safety stock ({len(pooled)} SKUs)", highlight=False)
    if out is not None:
        console.print(f"wrote {len(frame)} rows to {out}", highlight=False)


def suppliers_command(
    data: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    as_of: str = typer.Option(None, "--as-of", help="Audit as of this date (default: last sales day)."),
    rules_file: Path = typer.Option(None, "--rules", help="TOML rules file (lead-time settings)."),
    out: Path = typer.Option(None, "--out", help="Write the audit to .csv, .parquet or .json."),
) -> None:
    """Audit supplier lead times from receipts: actual vs promised, reliability, bias trend."""
    import pandas as pd

    from forecasting.inventory.leadtime import audit_lead_times
    from forecasting.inventory.rules import load_rules

    setup_logging("WARNING")
    with bad_input_exits():
        rules = load_rules(rules_file)
        if out is not None:
            check_out_file(out, OUT_SUFFIXES, ".csv, .parquet or .json", "policies.csv")
        dataset, date = load_data_as_of(data, as_of)
        audit = audit_lead_times(dataset, date, rules.lead_time)
        if out is not None:
            _write_frame(audit.suppliers, out)
    table = Table(title=f"Supplier lead-time audit as of {date.date()}")
    for col in ("supplier", "receipts", "promised", "mean", "p90", "CV", "on time %", "bias", "bias/qtr",
                "reliability", "length", "fallback"):
        table.add_column(col, justify="left" if col in ("supplier", "reliability", "length") else "right")

    def num(value: float, fmt: str) -> str:
        return "-" if pd.isna(value) else format(value, fmt)

    for r in audit.suppliers.to_dict(orient="records"):
        table.add_row(str(r["supplier"]), str(r["n_receipts"]), num(r["promised_days"], ".1f"),
                      num(r["mean_days"], ".1f"), num(r["p90_days"], ".0f"), num(r["cv"], ".2f"),
                      num(100 * r["on_time_rate"], ".0f"), num(r["bias_days"], "+.1f"),
                      num(r["bias_trend_per_quarter"], "+.2f"), str(r["reliability"]), str(r["length"]),
                      "yes" if r["fallback"] else "")
    console.print(table)
    console.print(f"{len(audit.skus)} SKUs have enough receipts for their own lead-time distribution",
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add the policy commands to ``app``."""
    app.command("policy")(policy_command)
    app.command("suppliers")(suppliers_command)
