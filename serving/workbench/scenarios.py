"""Campaign what-if from the served run: resolve the campaign's series, check it, run it, shape the answer."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from forecasting.inventory.campaigns import Campaign, check_campaign, what_if
from forecasting.persistence import ResultStore, RunInfo


def _plain(value: Any) -> Any:
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class UnknownSeriesError(ValueError):
    """A SKU, channel or category the served run does not plan."""


def resolve_series(policies: pd.DataFrame, skus: Sequence[str] | None, category: str | None,
                   channels: Sequence[str] | None) -> pd.DataFrame:
    """The policy rows of the campaign's SKU-channels.

    Raises:
        ValueError: Naming the field ('skus', 'category', 'channels'), the unknown values, close matches and
            the fix.
    """
    pol = policies.assign(sku=policies["sku"].astype(str), channel=policies["channel"].astype(str))
    if bool(skus) == bool(category):
        raise ValueError("Give either 'skus' (a list of SKU codes) or 'category', not both and not neither. "
                         "Fix: e.g. \"skus\": [\"SKU00001\"].")
    if category:
        if "category" not in pol:
            raise ValueError("The field 'category' cannot be used: the served run has no SKU categories (the "
                             "skus table had no 'category' column). Fix: list the SKUs in 'skus'.")
        rows = pol[pol["category"].astype(str) == category]
        if rows.empty:
            known = sorted(pol["category"].dropna().astype(str).unique())
            raise UnknownSeriesError(f"The field 'category' has the unknown value {category!r}. Known "
                                     f"categories: {known[:20]}. Fix: use one of them.")
    else:
        wanted = [str(s) for s in skus or []]
        known_skus = set(pol["sku"])
        unknown = [s for s in wanted if s not in known_skus]
        if unknown:
            close = {s: difflib.get_close_matches(s, known_skus, n=3, cutoff=0.5) for s in unknown[:5]}
            raise UnknownSeriesError(f"The field 'skus' has {len(unknown)} SKU(s) the served run does not "
                                     f"plan: {unknown[:5]} (closest: {close}). Fix: check the codes.")
        rows = pol[pol["sku"].isin(wanted)]
    if channels:
        unknown_ch = sorted(set(channels) - set(rows["channel"]))
        if unknown_ch:
            raise UnknownSeriesError(f"The field 'channels' has {unknown_ch}, not sold for these SKUs. Their "
                             f"channels are {sorted(set(rows['channel']))}. Fix: use those, or leave "
                             "'channels' out.")
        rows = rows[rows["channel"].isin(list(channels))]
    return rows


def run_scenario(
    store: ResultStore,
    run: RunInfo,
    policies: pd.DataFrame,
    plan_date: pd.Timestamp,
    *,
    skus: Sequence[str] | None,
    category: str | None,
    channels: Sequence[str] | None,
    start: date | str,
    end: date | str,
    uplift_base: float,
    uplift_best: float | None,
    n_paths: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Check and run a campaign what-if on the served run; a JSON-ready answer.

    Raises:
        ValueError: Any bad field (the message names it, the value and the fix). Nothing is stored.
    """
    try:
        start_ts, end_ts = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except ValueError:
        raise ValueError(f"The fields 'start' and 'end' must be dates like 2025-06-30. Got {start!r}, "
                         f"{end!r}.") from None
    rows = resolve_series(policies, skus, category, channels)
    keys = list(zip(rows["sku"], rows["channel"], strict=True))
    forecasts = store.get_forecasts(run.id, keys=keys)
    last_day = pd.Timestamp(forecasts["date"].max()) if len(forecasts) else plan_date
    if len(forecasts):  # the forecasts start the day after the planning date: they define "the future"
        plan_date = pd.Timestamp(forecasts["date"].min()).normalize() - pd.Timedelta(days=1)
    campaign = Campaign(tuple(sorted(set(rows["sku"]))), tuple(channels) if channels else None, start_ts,
                        end_ts, float(uplift_base), None if uplift_best is None else float(uplift_best))
    check_campaign(campaign, plan_date, last_day)
    series, orders = what_if(campaign, forecasts, run.quantiles, rows, plan_date, n_paths=n_paths,
                             random_state=seed)
    return {
        "run_id": run.id, "plan_date": plan_date.date().isoformat(),
        "campaign": {"skus": list(campaign.skus), "channels": list(campaign.channels or []),
                     "start": start_ts.date().isoformat(), "end": end_ts.date().isoformat(),
                     "uplift_base": campaign.uplifts["base"], "uplift_best": campaign.uplifts["best"]},
        "series": [{str(k): _plain(v) for k, v in r.items()} for r in series.to_dict("records")],
        "orders": [{str(k): _plain(v) for k, v in r.items()} for r in orders.to_dict("records")],
    }
