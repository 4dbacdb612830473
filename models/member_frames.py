"""Helpers of :class:`models.combination.Combination`: aligning member outputs to its series order."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from features.schema import SERIES_KEY

KEY = list(SERIES_KEY)
# Series per block when blending and remapping paths (bounds the temporaries of the sort-based remap).
PATH_BLOCK = 500


def blocks(index: np.ndarray) -> Iterator[np.ndarray]:
    """``index`` in consecutive blocks of ``PATH_BLOCK`` series."""
    for start in range(0, len(index), PATH_BLOCK):
        yield index[start : start + PATH_BLOCK]


def path_order(member_keys: pd.DataFrame, keys: pd.DataFrame, name: str) -> np.ndarray:
    """Row positions that put a member's series into ``keys`` order (members may order differently)."""
    mk = member_keys[KEY].astype(str).reset_index(drop=True).reset_index()
    pos = keys[KEY].astype(str).merge(mk, on=KEY, how="left")["index"]
    if pos.isna().any() or len(mk) != len(keys):
        raise RuntimeError(
            f"Member {name!r} did not forecast every fitted series ({len(mk)} of {len(keys)}): every "
            "member must forecast every series of the data it was fitted on."
        )
    return pos.to_numpy(dtype=int)


def in_order(frame: pd.DataFrame, keys: pd.DataFrame, horizon: int, name: str) -> pd.DataFrame:
    """A member's forecast rows reordered to ``keys`` order, ``horizon`` dated rows per series."""
    if len(frame) != len(keys) * horizon:
        raise RuntimeError(
            f"Member {name!r} forecast {len(frame)} rows, expected {len(keys)} series x {horizon} days: "
            "every member must forecast every series of the fitted data."
        )
    order = path_order(frame[KEY].iloc[::horizon], keys, name)
    rows = (order[:, None] * horizon + np.arange(horizon)[None, :]).reshape(-1)
    return frame.iloc[rows].reset_index(drop=True)


def weights_label(names: list[str], weights: np.ndarray) -> str:
    """``lightgbm`` for a single member, else ``lightgbm=0.60+tsb=0.40`` (members with weight > 0)."""
    used = [(n, float(w)) for n, w in zip(names, weights, strict=True) if w > 1e-9]
    if len(used) == 1:
        return used[0][0]
    return "+".join(f"{n}={w:.2f}" for n, w in used)


def regrid(values: np.ndarray, levels: tuple[float, ...], target: tuple[float, ...]) -> np.ndarray:
    """Pick the columns of ``values`` (at ``levels``) that sit at the ``target`` levels."""
    return values[..., [levels.index(q) for q in target]]
