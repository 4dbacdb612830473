"""The series key columns (``sku``, ``channel``) as text, cheaply for categorical columns.

``Dataset.sales`` holds its keys as categoricals. ``astype(str)`` on a categorical builds a new string
object per row: on a 20-million-row sales table that is gigabytes. Here each category's string is built
once and shared by its rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.schema import SERIES_KEY


def column_text(column: pd.Series) -> np.ndarray:
    """``column.astype(str)`` as an object array, sharing one string per category of a categorical."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        # Code -1 (a missing value) reads the appended last entry, "nan", as astype(str) writes it.
        text = np.append(np.asarray(column.cat.categories.astype(str), dtype=object), "nan")
        return text[column.cat.codes.to_numpy()]
    return column.astype(str).to_numpy(dtype=object)


def key_text(frame: pd.DataFrame, columns: Sequence[str] = SERIES_KEY) -> pd.DataFrame:
    """The key ``columns`` of ``frame`` as object columns of ``str``, on ``frame``'s index."""
    return pd.DataFrame({c: column_text(frame[c]) for c in columns}, index=frame.index)


__all__ = ["column_text", "key_text"]
