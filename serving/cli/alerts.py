"""Alert commands: ``signals`` (compute, store and deliver alerts) and ``alerts`` (list them).

``signals --data DIR`` validates the data and every option before it touches the result store, so
bad input (exit code 2) stores nothing.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from forecasting.signals.alert_types import ALERT_TYPES
from serving.cli.common import bad_input_exits, console, err_console, load_data_as_of, setup_logging

if TYPE_CHECKING:
    import pandas as pd

    from features.dataset import Dataset

logger = logging.getLogger(__name__)

_RELATIVE = re.compile(r"^(\d+)\s*([dhw])$")


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``--since``: an ISO date/time (UTC) or a span back from now such as ``7d``, ``12h``, ``2w``.

    Raises:
        ValueError: If ``text`` is neither.
    """
    if text is None:
        return None
    import pandas as pd

    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{{"d": "days", "h": "hours", "w": "weeks"}[unit]: amount})
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise ValueError(
            f"--since must be a date like 2026-11-01, a time like 2026-11-01T08:00, or a span like 7d, "
            f"12h, 2w. Got {text!r}."
        ) from None
    return (stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)).to_pydatetime()


def _check_type(alert_type: str | None) -> None:
    if alert_type is not None and alert_type not in ALERT_TYPES:
        raise ValueError(f"--type must be one of {', '.join(ALERT_TYPES)}. Got {alert_type!r}.")


def compute_signal_alerts(
    data: Dataset,
    previous_segments: pd.DataFrame | None,
    *,
    forecast: pd.DataFrame | None = None,
    horizon_days: int = 91,
    fdr: float = 0.05,
) -> dict[str, list[dict[str, Any]]]:
    """Every signal's alerts for ``data``, by alert type.

    Args:
        data: Validated tables; signals are computed as of ``data.end_date``.
        previous_segments: The last published segmentation (with ``policy``), or None.
        forecast: The served forecast, used as spike evidence if it starts the day after the data.
        horizon_days: How far ahead to look for spikes.
        fdr: False discovery rate of the volatility scan.
    """
    import pandas as pd

    from forecasting.inventory.leadtime import audit_lead_times
    from forecasting.inventory.segmentation import segment
    from forecasting.signals.alerts import spike_alerts, volatility_alerts
    from forecasting.signals.segment_changes import segment_changes
    from forecasting.signals.slippage import detect_slippage
    from forecasting.signals.spikes import detect_spikes
    from forecasting.signals.volatility import detect_volatility_shifts

    out: dict[str, list[dict[str, Any]]] = {}
    next_day = data.end_date + pd.Timedelta(days=1)
    if forecast is not None and (forecast.empty or pd.Timestamp(forecast["date"].min()) != next_day):
        forecast = None  # made from another origin: its peaks are not this data's days ahead
    with console.status("spikes ahead: last year, forecast, events and promotions ..."):
        out["spike"] = spike_alerts(detect_spikes(data, forecast, horizon_days=horizon_days))
    logger.info("stage spikes: %d alerts", len(out["spike"]))
    with console.status("volatility shifts ..."):
        out["volatility_shift"] = volatility_alerts(detect_volatility_shifts(data, fdr=fdr))
    logger.info("stage volatility: %d alerts", len(out["volatility_shift"]))
    with console.status("segments and supplier lead times ..."):
        audit = audit_lead_times(data, data.end_date)
        current = segment(data, data.end_date, audit=audit).assign(as_of=data.end_date)
        # Policies need forecast paths: only the weekly run recomputes them, so compare classes here.
        previous = (None if previous_segments is None
                    else previous_segments.drop(columns="policy", errors="ignore"))
        out["segment_change"] = segment_changes(previous, current, as_of=data.end_date)
        out["supplier_slippage"] = (
            detect_slippage(data.receipts, skus=data.skus, segments=previous_segments,
                            suppliers=data.suppliers, as_of=data.end_date)
            if data.receipts is not None and not data.receipts.empty else []
        )
    logger.info("stage segments: %d alerts; slippage: %d alerts", len(out["segment_change"]),
                len(out["supplier_slippage"]))
    return out


def signals_command(
    data_dir: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Compute as of this date (default: last day)."),
    horizon: int = typer.Option(91, "--horizon", help="Days ahead to look for spikes, 1..300."),
    fdr: float = typer.Option(0.05, "--fdr", help="False discovery rate of the volatility scan, in (0, 1)."),
) -> None:
    """Compute spike, volatility, segment and supplier signals; store, log and deliver the alerts."""
    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import NotFoundError, ResultStore
    from forecasting.signals.alerts import emit_alerts

    settings = get_settings()
    setup_logging(settings.log_level)
    with bad_input_exits():
        if not 1 <= horizon <= 300:
            raise ValueError(f"--horizon must be a whole number of days in 1..300. Got {horizon}.")
        if not 0.0 < fdr < 1.0:
            raise ValueError(f"--fdr must be in (0, 1), e.g. 0.05. Got {fdr}.")
        if settings.webhook_urls and not settings.webhook_secret:
            raise ValueError("BLENDCAST_WEBHOOK_URLS is set but BLENDCAST_WEBHOOK_SECRET is empty: "
                             "webhooks must be signed. Set a secret shared with the receivers.")
        with console.status(f"reading and validating {data_dir} ..."):
            data, _ = load_data_as_of(data_dir, as_of)
        settings.ensure_home()
        store = ResultStore.from_settings(settings)
        previous, forecast = None, None
        try:
            latest = store.latest_run()
            if latest is not None:
                previous, forecast = store.get_segments(latest.id), store.get_forecasts(latest.id)
        except NotFoundError:
            pass
        by_type = compute_signal_alerts(data, previous, forecast=forecast, horizon_days=horizon, fdr=fdr)
        alerts = [a for group in by_type.values() for a in group]
        with console.status(f"storing {len(alerts)} alerts and delivering webhooks ..."):
            new_ids = emit_alerts(store, alerts, settings)
    table = Table(title=f"Signals as of {data.end_date:%Y-%m-%d}")
    table.add_column("type")
    table.add_column("alerts", justify="right")
    for name, group in by_type.items():
        table.add_row(name, str(len(group)))
    console.print(table)
    console.print(f"{len(new_ids)} new alert(s) stored; {len(alerts) - len(new_ids)} already known.",
                  highlight=False)


def alerts_command(
    since: str | None = typer.Option(None, "--since", help="Only alerts since a time or a span (7d, 12h)."),
    alert_type: str | None = typer.Option(None, "--type", help=f"Only this type: {', '.join(ALERT_TYPES)}."),
    limit: int = typer.Option(100, "--limit", help="At most this many alerts (newest first), >= 1."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
    deliver: bool = typer.Option(
        False, "--deliver", help="First retry the webhook deliveries that are due (receivers that were down)."
    ),
) -> None:
    """List stored alerts, newest first."""
    import pandas as pd

    from forecasting.infrastructure.settings import get_settings
    from forecasting.infrastructure.webhooks import process_outbox
    from forecasting.persistence import ResultStore

    settings = get_settings()
    with bad_input_exits():
        start = parse_since(since)
        _check_type(alert_type)
        if limit < 1:
            raise ValueError(f"--limit must be >= 1. Got {limit}.")
        if deliver and not settings.webhook_secret:
            raise ValueError("--deliver needs BLENDCAST_WEBHOOK_SECRET: webhooks must be signed.")
        store = ResultStore.from_settings(settings)
        if deliver:
            report = process_outbox(store, settings.webhook_secret)
            # On stderr, so --json output stays machine-readable.
            err_console.print(f"webhooks: {len(report.sent)} delivered, {len(report.failed)} to retry later",
                              highlight=False)
        frame = store.list_alerts(since=start, type=alert_type, limit=limit)
    if as_json:
        for record in frame.to_dict("records"):
            typer.echo(json.dumps(record, default=str))
        return
    table = Table(title=f"{len(frame)} alert(s)")
    for column in ("id", "created", "type", "severity", "sku", "channel", "message", "delivered"):
        table.add_column(column, overflow="fold")
    for row in frame.to_dict("records"):
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        delivered = "" if pd.isna(row["delivered_at"]) else f"{row['delivered_at']:%Y-%m-%d %H:%M}"
        table.add_row(str(row["id"]), f"{row['created_at']:%Y-%m-%d %H:%M}", row["type"], row["severity"],
                      row["sku"] or "", row["channel"] or "", str(payload.get("message", ""))[:120],
                      delivered)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``signals`` and ``alerts`` commands to ``app``."""
    app.command("signals")(signals_command)
    app.command("alerts")(alerts_command)
