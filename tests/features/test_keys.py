"""Key columns as text: the same strings as ``astype(str)``, one object per category."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.keys import column_text, key_text


def test_categorical_text_equals_astype_str_and_shares_one_string_per_category() -> None:
    column = pd.Series(pd.Categorical(["b", "a", None, "b", "a"], categories=["a", "b"]))
    text = column_text(column)
    assert text.dtype == object
    assert text.tolist() == column.astype(str).tolist() == ["b", "a", "nan", "b", "a"]
    assert text[0] is text[3] and text[1] is text[4]


def test_non_categorical_columns_read_as_astype_str() -> None:
    frame = pd.DataFrame({"sku": [7, 8], "channel": ["web", None]}, index=[10, 11])
    out = key_text(frame)
    assert out.index.tolist() == [10, 11]
    assert out.to_dict("list") == {"sku": ["7", "8"], "channel": ["web", "None"]}
    assert all(out[c].dtype == object for c in out)
    np.testing.assert_array_equal(out["sku"].to_numpy(), frame["sku"].astype(str).to_numpy())
