"""``blendcast drift``: compute drift against the served run, save the report, optionally write it out.

Reads the data directory, compares the recent window with the reference window (inputs, demand,
forecasts, realized accuracy, volatility), saves the HTML report in the result store (served at
``/reports/drift/latest``) and prints the verdict. Bad input exits with code 2 before anything is
saved or written.
"""

from __future__ import annotations

from pathlib import Path

import typer

from serving.cli.common import atomic_file, bad_input_exits, check_out_file, console, fail, setup_logging

VERDICT_STYLE = {"OK": "green", "WATCH": "yellow", "ACT": "red"}


def drift_command(
    data: Path = typer.Option(..., "--data", help="Data directory (sales.csv required)."),
    out: Path | None = typer.Option(None, "--out", help="Also write the HTML report to this file."),
    run_id: int | None = typer.Option(None, "--run-id", help="Report on this run; default the served run."),
    reference_days: int = typer.Option(91, "--reference-days", help="Days of the reference window, >= 14."),
    recent_days: int = typer.Option(28, "--recent-days", help="Days of the recent window, >= 7."),
    volatility: bool = typer.Option(True, "--volatility/--no-volatility", help="Scan volatility shifts."),
) -> None:
    """Compute drift, save the HTML report in the result store and print the verdict."""
    from features.readers import load_dataset
    from forecasting.infrastructure.settings import get_settings
    from forecasting.persistence import NotFoundError, ResultStore
    from serving.reports import run_drift

    settings = get_settings()
    setup_logging(settings.log_level)
    store = ResultStore.from_settings(settings)
    with bad_input_exits():
        if out is not None:
            check_out_file(out, (".html", ".htm"), ".html", "drift.html")
        if not data.is_dir():
            raise FileNotFoundError(f"--data must be a directory holding sales.csv. Got '{data}'.")
        if run_id is not None:
            try:
                store.get_run(run_id)
            except NotFoundError as exc:
                raise fail(str(exc)) from None
        dataset = load_dataset(data)
        report_id, html = run_drift(dataset, store, run_id=run_id, reference_days=reference_days,
                                    recent_days=recent_days, volatility=volatility)
    if out is not None:
        with atomic_file(out) as tmp:
            tmp.write_text(html, encoding="utf-8")
    report = store.get_drift_report(report_id)
    summary = report.summary if report is not None else {}
    verdict = str(summary.get("verdict", "?"))
    console.print(f"[bold {VERDICT_STYLE.get(verdict, 'white')}]{verdict}[/] drift report {report_id}"
                  + (f" for run {summary.get('run_id')}" if summary.get("run_id") is not None else ""),
                  highlight=False)
    for reason in summary.get("reasons", []):
        console.print(f"  - {reason}", highlight=False, markup=False)
    if out is not None:
        console.print(f"wrote {out} ({len(html) / 1024:.0f} kB)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``drift`` to the CLI."""
    app.command("drift")(drift_command)
