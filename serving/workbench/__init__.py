"""The planner's workbench as served: purchase orders (and later exceptions, KPIs) computed from the
served run once and cached with it, shared by the API routes and the pages."""
