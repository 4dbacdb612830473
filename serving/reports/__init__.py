"""Self-contained HTML drift reports (Jinja2 templates, inline matplotlib SVG charts)."""

from serving.reports.builder import build_drift_report, find_drift_report, run_drift

__all__ = ["build_drift_report", "find_drift_report", "run_drift"]
