"""Analyst pages (``/ui``) and drift reports (``/reports/drift/...``), server-rendered with Jinja2."""

from serving.ui import workbench_pages  # noqa: F401  (registers the planner's pages on ui_router)
from serving.ui.access import register_pages
from serving.ui.data import attach_sales
from serving.ui.routes import reports_router, ui_router

__all__ = ["attach_sales", "register_pages", "reports_router", "ui_router"]
