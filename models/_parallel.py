"""Batch helpers for per-series models: the series-by-day panel and chunked process parallelism.

The statistical models (ETS, TSB) work on one row of numbers per series. Reading them from the
Dataset's panel (built once, vectorised, instead of a ``groupby`` per series) and shipping whole
chunks of rows to worker processes (instead of one task per series) keeps the per-series overhead
small enough for catalogues of tens of thousands of SKU-channels.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np
from joblib import Parallel, delayed

from features.dataset import Dataset
from features.panel import Panel

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


def series_matrix(data: Dataset, history_days: int | None = None) -> Panel:
    """``data.panel()``, optionally only its last days (a view, not a copy).

    Args:
        data: The canonical data; ``sales`` is complete (one row per series and day) with ``censored``.
        history_days: Keep only the last ``history_days`` days up to ``data.end_date``; None keeps all.

    Returns:
        The panel of every series in ``data.series()``, even series with no row inside the window
        (their row is all NaN), with its own copy of the keys (models keep them).
    """
    panel = data.panel()
    if history_days is not None:
        panel = panel.last(int(history_days))
    return replace(panel, keys=panel.keys.copy())


ChunkMapper = Callable[[Callable[[T], R], Sequence[T]], Iterator[R]]

# Set by an execution engine above this layer (e.g. Dask in ``training/``) to run per-series chunks
# as its tasks; None means this process or local worker processes.
CHUNK_MAPPER: contextvars.ContextVar[ChunkMapper | None] = contextvars.ContextVar(
    "CHUNK_MAPPER", default=None
)


def chunk_bounds(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """Split ``range(n_items)`` into at most ``n_chunks`` contiguous, nearly equal ``(start, stop)``."""
    n_chunks = max(1, min(n_chunks, n_items))
    edges = np.linspace(0, n_items, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def map_chunks(
    func: Callable[[T], R],
    chunks: Sequence[T],
    n_jobs: int,
    label: str,
) -> Iterator[R]:
    """Apply ``func`` to each chunk, in order, in-process or in ``n_jobs`` worker processes.

    Worker processes (joblib's loky backend) are started once for the whole call, never per series;
    one log line per finished chunk shows progress.

    Args:
        func: A picklable module-level function.
        chunks: The work items (e.g. arrays holding many series each).
        n_jobs: 1 runs in this process; > 1 uses that many processes.
        label: What is being done, for the progress log lines.

    Yields:
        ``func(chunk)`` for each chunk, in the order of ``chunks``.
    """
    total = len(chunks)
    mapper = CHUNK_MAPPER.get()
    if mapper is not None and total > 1:
        results: Iterator[R] = mapper(func, chunks)
    elif n_jobs == 1 or total <= 1:
        results = (func(chunk) for chunk in chunks)
    else:
        parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")
        results = parallel(delayed(func)(chunk) for chunk in chunks)
    for done, result in enumerate(results, start=1):
        log.info("%s: chunk %d/%d done", label, done, total)
        yield result


def pack_recent(values: np.ndarray, width: int) -> np.ndarray:
    """The last ``width`` non-NaN values of each row, in their order, left-aligned and NaN-padded.

    Args:
        values: Array ``(n_rows, n_cols)`` with NaN where there is no value.
        width: How many of the most recent values to keep per row.

    Returns:
        Array ``(n_rows, width)``: row ``i`` holds its ``min(width, count_i)`` latest values first.
    """
    valid = ~np.isnan(values)
    rank_from_end = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    keep = valid & (rank_from_end <= width)
    kept = np.minimum(valid.sum(axis=1), width)
    col = kept[:, None] - rank_from_end
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
    out = np.full((values.shape[0], width), np.nan)
    out[rows[keep], col[keep]] = values[keep]
    return out
