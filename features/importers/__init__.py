"""Importers: convert common source layouts into canonical tables (``dict`` of table name to frame).

Each importer returns raw canonical tables; validate them with
:func:`features.validation.build_dataset` and write them with :func:`features.readers.write_tables`.
"""

from __future__ import annotations

from features.importers.m5 import import_m5
from features.importers.panels import import_carparts, import_dominicks
from features.importers.transactions import import_transactions

__all__ = ["import_carparts", "import_dominicks", "import_m5", "import_transactions"]
