"""Signals benchmark: spikes, volatility shifts and supplier slippage against the synthetic truth.

A synthetic catalogue (default 10,000 SKUs x 3 channels = 30,000 SKU-channels, 760 days) is scored
against its ground truth:

- Spikes: the data is cut on October 1 of its last year, so the gift-set seasons start 3-6 weeks
  ahead; a truth window of >= 2x starting >= 14 days ahead is found if a detected window of the same
  series overlaps it. Precision counts seasonal windows (last year / forecast); event and promotion
  windows are scored against the true event multipliers and promotion uplifts.
- Volatility shifts: recall, false alarms on series without a shift, location error and the
  detection delay (weeks of data after the change until the change is reported).
- Supplier slippage: suppliers flagged vs suppliers that really slip.
- Time of every detector on the whole catalogue (target: <= 2 minutes for 30,000 SKU-channels).

    .venv/bin/python benchmarks/signals.py [--skus 10000] [--channels 3] [--days 760] [--seed 7]
        [--plot benchmarks/results/signals.png]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.dataset import Dataset
from features.synthetic import generate_catalogue
from features.synthetic.types import Catalogue
from features.validation import build_dataset
from forecasting.inventory.leadtime import audit_lead_times
from forecasting.inventory.segmentation import segment
from forecasting.signals.segment_changes import apply_hysteresis, segment_changes
from forecasting.signals.slippage import detect_slippage, slippage_table
from forecasting.signals.spikes import detect_spikes
from forecasting.signals.volatility import detect_volatility_shifts

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the Agg backend must be chosen first

log = logging.getLogger("benchmarks.signals")
console = Console()
KEY = ["sku", "channel"]
DELAY_WEEKS = (3, 4, 5, 6, 8, 10, 12, 16, 20, 26)
LOCATION_TOLERANCE_DAYS = 28


def timed(label: str, fn: Callable[[], Any], times: dict[str, float]) -> Any:
    """Run ``fn``, log and record its wall time."""
    start = time.perf_counter()
    with console.status(f"{label} ..."):
        out = fn()
    times[label] = time.perf_counter() - start
    log.info("%s: %.1f s", label, times[label])
    return out


def spike_scores(cat: Catalogue, data: Dataset, origin: pd.Timestamp, horizon: int) -> dict[str, float]:
    """Recall and precision of spikes found >= 14 days ahead from ``origin``."""
    cut = data.truncate(origin)
    found = detect_spikes(cut, horizon_days=horizon)
    truth = cat.truth.spikes
    ahead = (truth["start"] - origin).dt.days
    truth = truth[(ahead >= 14) & (ahead <= horizon) & (truth["uplift"] >= 2.0)]
    series = cat.truth.series.set_index(KEY)
    launch = series["launch"].reindex(pd.MultiIndex.from_frame(truth[KEY])).to_numpy()
    pattern = series["pattern"].reindex(pd.MultiIndex.from_frame(truth[KEY])).to_numpy()
    # A season can only be seen from last year if the series sold through last year's season.
    last_season = truth["start"] - pd.Timedelta(days=364)
    with_history = (launch <= last_season.to_numpy()) if len(truth) else np.zeros(0, bool)
    pairs = found.merge(truth, on=KEY, how="inner", suffixes=("", "_true"))
    overlap = pairs[(pairs["start"] <= pairs["end_true"]) & (pairs["end"] >= pairs["start_true"])]
    hit_truth = set(map(tuple, overlap[[*KEY, "season"]].to_numpy()))
    found_truth = np.array([(s, c, y) in hit_truth for s, c, y in truth[[*KEY, "season"]].to_numpy()])
    seasonal = found[found["source"].str.contains("yoy|forecast")]
    seasonal_keys = set(map(tuple, overlap.loc[overlap["source"].str.contains("yoy|forecast"),
                                               [*KEY, "start"]].astype(str).to_numpy()))
    seasonal_rows = seasonal[[*KEY, "start"]].astype(str).to_numpy()
    seasonal_hits = np.array([tuple(r) in seasonal_keys for r in seasonal_rows])
    lead = (overlap.groupby([*KEY, "season"], observed=True)["start"].min() - origin).dt.days
    event_only = found[~found["source"].str.contains("yoy|forecast")]
    return {
        "truth": len(truth), "truth_with_history": int(with_history.sum()),
        "truth_steady_with_history": int((with_history & (pattern != "lumpy")).sum()),
        "recall": float(found_truth.mean()) if len(truth) else np.nan,
        "recall_with_history": float(found_truth[with_history].mean()) if with_history.any() else np.nan,
        "recall_steady_with_history": float(found_truth[with_history & (pattern != "lumpy")].mean())
        if (with_history & (pattern != "lumpy")).any() else np.nan,
        "seasonal_windows": len(seasonal),
        "precision": float(seasonal_hits.mean()) if len(seasonal) else np.nan,
        "median_days_ahead": float(lead.median()) if len(lead) else np.nan,
        "event_windows": len(event_only),
        "event_precision": _event_precision(cat, data, event_only),
    }


def _event_precision(cat: Catalogue, data: Dataset, windows: pd.DataFrame) -> float:
    """Share of event/promotion windows whose true multiplier (events x promotions) reaches 2x."""
    if windows.empty or data.events is None:
        return np.nan
    effects = cat.truth.event_effects
    events = data.events.assign(channel=data.events["channel"].fillna(""))
    true_days = []
    for row in events.merge(effects, on=["event", "channel"]).itertuples(index=False):
        true_days.append((pd.Timestamp(str(row.date)) + pd.Timedelta(days=float(str(row.offset_days))),
                          row.channel, row.multiplier))
    by_day = pd.DataFrame(true_days, columns=["date", "channel", "multiplier"])
    promos = cat.truth.promotions
    strong = promos[promos["actual_uplift"] >= 2.0]
    ok = []
    for w in windows.itertuples(index=False):
        days = by_day[(by_day["date"] >= w.start) & (by_day["date"] <= w.end)
                      & by_day["channel"].isin(["", w.channel])]
        event_hit = bool((days.groupby("date")["multiplier"].prod() >= 2.0).any())
        promo_hit = bool(((strong["sku"] == w.sku) & (strong["channel"] == w.channel)
                          & (strong["start"] <= w.end) & (strong["end"] >= w.start)).any())
        ok.append(event_hit or promo_hit)
    return float(np.mean(ok))


def volatility_scores(cat: Catalogue, data: Dataset, found: pd.DataFrame) -> dict[str, float]:
    """Recall, false alarms and location error of the shifts found on the whole history."""
    truth = cat.truth.volatility_shifts
    merged = truth.merge(found, on=KEY, how="left", suffixes=("_true", ""))
    error = (merged["changed_at"] - merged["changed_at_true"]).dt.days.abs()
    hit = error <= LOCATION_TOLERANCE_DAYS
    n_series = len(data.series())
    shifted = set(map(tuple, truth[KEY].to_numpy()))
    false = sum(tuple(k) not in shifted for k in found[KEY].to_numpy())
    return {
        "truth": len(truth), "recall": float(hit.mean()) if len(truth) else np.nan,
        "false_alarm_rate": false / max(n_series - len(truth), 1),
        "median_location_error_days": float(error[hit].median()) if hit.any() else np.nan,
    }


def detection_delays(cat: Catalogue, data: Dataset, rng: np.random.Generator, n_null: int) -> np.ndarray:
    """Weeks of data after each true change until it is reported (inf: not within 26 weeks).

    Every shifted series (and ``n_null`` series without a shift, so the FDR control sees a realistic
    mix) is cut ``k`` weeks after its change and re-aligned so all cuts end on the same day; the
    shift is whole weeks, so weekdays keep their place. Events are left out of this experiment since
    the shifted calendars no longer match them.
    """
    truth = cat.truth.volatility_shifts
    sales = data.sales
    code = sales["sku"] + "|" + sales["channel"]
    shift_keys = truth["sku"] + "|" + truth["channel"]
    change = dict(zip(shift_keys, truth["changed_at"], strict=True))
    others = np.setdiff1d(code.unique(), shift_keys.to_numpy())
    nulls = rng.choice(others, min(n_null, len(others)), replace=False)
    null_cut = dict(zip(nulls, rng.choice(list(change.values()), len(nulls)), strict=True))
    delay = np.full(len(truth), np.inf)
    end = data.end_date
    for weeks in DELAY_WEEKS:
        cuts = {k: v + pd.Timedelta(weeks=weeks) for k, v in {**change, **null_cut}.items()}
        cut = code.map(cuts)
        keep = cut.notna() & (sales["date"] <= cut)
        part = sales[keep]
        lag = (end - cut[keep]).dt.days // 7 * 7
        part = part.assign(date=part["date"] + pd.to_timedelta(lag, unit="D"))
        part = part[part["date"] <= end].sort_values([*KEY, "date"]).reset_index(drop=True)
        found = detect_volatility_shifts(Dataset(sales=part))
        found = found.assign(key=found["sku"] + "|" + found["channel"])
        located = found.set_index("key")["changed_at"]
        for i, key in enumerate(shift_keys):
            if np.isfinite(delay[i]) or key not in located.index:
                continue
            cut_at = change[key] + pd.Timedelta(weeks=weeks)
            true_at = change[key] + pd.Timedelta(days=(end - cut_at).days // 7 * 7)
            if abs((located[key] - true_at).days) <= LOCATION_TOLERANCE_DAYS:
                delay[i] = weeks
        log.info("delay scan at %d weeks: %d of %d changes reported", weeks, np.isfinite(delay).sum(),
                 len(delay))
    return delay


def flapping(data: Dataset, n_runs: int, margin: float) -> dict[str, int]:
    """Class changes over weekly re-segmentations, without and with hysteresis."""
    ends = [data.end_date - pd.Timedelta(weeks=n_runs - 1 - k) for k in range(n_runs)]
    runs = [segment(data, end) for end in ends]
    raw = 0
    for a, b in itertools.pairwise(runs):
        both = a.merge(b, on=KEY, suffixes=("_a", "_b"))
        raw += int((both["xyz_a"] != both["xyz_b"]).sum() + (both["abc_a"] != both["abc_b"]).sum())
    stored, alerts = runs[0], 0
    for current in runs[1:]:
        changes = segment_changes(stored, current, margin=margin)
        alerts += sum(c["payload"]["field"] in ("abc", "xyz") for c in changes)
        stored = apply_hysteresis(stored, current, margin=margin)
    return {"raw_changes": raw, "alerts_with_hysteresis": alerts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--days", type=int, default=760)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--horizon", type=int, default=91)
    parser.add_argument("--delay-nulls", type=int, default=3000, help="Null series in the delay scan.")
    parser.add_argument("--flap-skus", type=int, default=1000, help="SKUs in the flapping check.")
    parser.add_argument("--plot", type=Path, default=Path("benchmarks/results/signals.png"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("forecasting").setLevel(logging.WARNING)
    times: dict[str, float] = {}

    cat = timed("generate catalogue",
                lambda: generate_catalogue(args.skus, args.channels, args.days, args.seed), times)
    data = timed("validate (build_dataset)", lambda: build_dataset(cat.tables), times)
    n_series = len(data.series())
    origin = pd.Timestamp(data.end_date.year - (1 if data.end_date.month < 10 else 0), 10, 1)

    spikes = timed("detect_spikes (full catalogue)", lambda: detect_spikes(data, horizon_days=args.horizon),
                   times)
    shifts = timed("detect_volatility_shifts", lambda: detect_volatility_shifts(data), times)
    audit = timed("lead-time audit (segmentation input)", lambda: audit_lead_times(data), times)
    before, after = timed("segment x 2 (segmentation input)", lambda: (
        segment(data, data.end_date - pd.Timedelta(weeks=1), audit=audit),
        segment(data, data.end_date, audit=audit),
    ), times)
    changes = timed("segment_changes", lambda: segment_changes(before, after), times)
    slips = timed("detect_slippage", lambda: detect_slippage(data.receipts, skus=data.skus), times)
    detector_time = sum(times[k] for k in ("detect_spikes (full catalogue)", "detect_volatility_shifts",
                                           "segment_changes", "detect_slippage"))

    spike = spike_scores(cat, data, origin, args.horizon)
    vol = volatility_scores(cat, data, shifts)
    rng = np.random.default_rng(args.seed)
    delays = timed("volatility delay scan", lambda: detection_delays(cat, data, rng, args.delay_nulls), times)
    table = slippage_table(data.receipts)
    flagged = set(table.loc[table["later"] | table["more_variable"], "supplier"])
    slipping = set(cat.truth.suppliers.loc[cat.truth.suppliers["slippage_days"] > 0, "supplier"])
    judged = set(table["supplier"])
    flap_data = Dataset(sales=data.sales[data.sales["sku"].isin(data.sales["sku"].unique()[:args.flap_skus])],
                        skus=data.skus)
    flaps = timed("flapping check", lambda: flapping(flap_data, 9, 0.1), times)

    out = Table(title=f"Signals benchmark: {n_series:,} SKU-channels, {args.days} days, seed {args.seed}")
    out.add_column("measure")
    out.add_column("value", justify="right")
    out.add_column("target", justify="right")
    rows = [
        ("spikes >=2x, >=14 d ahead: truth windows (all / prior season / + not lumpy)",
         f"{spike['truth']} / {spike['truth_with_history']} / {spike['truth_steady_with_history']}", ""),
        ("spike recall, all truth windows", f"{spike['recall']:.1%}", ""),
        ("spike recall, series with a prior season", f"{spike['recall_with_history']:.1%}", ">= 90%"),
        ("spike recall, prior season, steady (not lumpy)", f"{spike['recall_steady_with_history']:.1%}",
         ">= 90%"),
        ("spike precision (seasonal windows)", f"{spike['precision']:.1%} of {spike['seasonal_windows']}",
         ">= 80%"),
        ("median days ahead of detected spike windows", f"{spike['median_days_ahead']:.0f}", ">= 14"),
        ("event/promotion windows: true multiplier >= 2x", f"{spike['event_precision']:.1%} of "
         f"{spike['event_windows']}", ""),
        ("volatility shifts: recall (located within 28 d)", f"{vol['recall']:.1%} of {vol['truth']}",
         ">= 85%"),
        ("volatility: false alarms on unchanged series", f"{vol['false_alarm_rate']:.2%}", "<= 5%"),
        ("volatility: median location error (days)", f"{vol['median_location_error_days']:.0f}", ""),
        ("volatility: median detection delay (weeks of data)", _weeks(np.median(delays)), ""),
        ("volatility: reported within 8 weeks", f"{np.mean(delays <= 8):.1%}", ""),
        ("supplier slippage: found / slipping (judged)",
         f"{len(flagged & slipping)} / {len(slipping & judged)}", ""),
        ("supplier slippage: false alarms", f"{len(flagged - slipping)} of {len(judged - slipping)}", ""),
        ("segment changes over 8 weekly runs: raw -> alerts with 10% hysteresis",
         f"{flaps['raw_changes']} -> {flaps['alerts_with_hysteresis']}", ""),
        ("alerts at the last day: spikes / shifts / segment / slippage",
         f"{len(spikes)} / {len(shifts)} / {len(changes)} / {len(slips)}", ""),
        ("time: all detectors on the whole catalogue (s)", f"{detector_time:.1f}", "<= 120"),
    ]
    for label, value, target in rows:
        out.add_row(label, value, target)
    console.print(out)
    timing = Table(title="wall time per stage (s)")
    timing.add_column("stage")
    timing.add_column("seconds", justify="right")
    for label, seconds in times.items():
        timing.add_row(label, f"{seconds:.1f}")
    console.print(timing)
    _plot(delays, spikes, args.plot)
    console.print(f"plot: {args.plot}")


def _weeks(value: float) -> str:
    return "> 26" if not np.isfinite(value) else f"{value:.0f}"


def _plot(delays: np.ndarray, spikes: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    weeks = np.array(DELAY_WEEKS)
    left.step(weeks, [np.mean(delays <= w) for w in weeks], where="post")
    left.set(xlabel="weeks of data after the change", ylabel="share of shifts reported",
             title="Volatility shift detection delay", ylim=(0, 1.02))
    left.grid(alpha=0.3)
    if not spikes.empty:
        right.hist(np.clip(spikes["uplift"], 0, 10), bins=30)
    right.set(xlabel="uplift (clipped at 10x)", ylabel="windows", title="Spike windows ahead by uplift")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
