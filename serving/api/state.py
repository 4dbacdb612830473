"""The served run in memory, and its atomic hot swap when a new run is published.

A published run is loaded once into compact numpy arrays: one row per forecast day (``means``,
``quantiles``, ``days``), grouped by series, and a dict ``(sku, channel) -> series number`` pointing
into ``offsets``. Policies and segments ride along. :class:`ServedState` holds the current
:class:`ServedRun` in one attribute; a reload builds the new run completely and then replaces the
reference in a single assignment, so a request that took the reference once answers entirely from one
run, and a request arriving during a reload is served by the old run without waiting.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from features.schema import quantile_column
from forecasting.persistence import ResultStore, RunInfo
from serving.api.errors import ApiError, closest, no_run

log = logging.getLogger(__name__)

_EPOCH = np.datetime64("1970-01-01", "D")
# Unknown keys of a batch that get closest-match suggestions; difflib over every SKU is ~ms each.
_SUGGEST_LIMIT = 20


def plain(value: Any) -> Any:
    """JSON-safe value: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-safe dicts."""
    return [{str(k): plain(v) for k, v in rec.items()} for rec in frame.to_dict("records")]


@dataclass(eq=False)
class ServedRun:
    """One published run, ready to answer from memory.

    Attributes:
        run: The run's record (id, model version, horizon, quantile levels, metrics).
        keys: ``(sku, channel)`` of every series, in store order.
        index: ``(sku, channel) -> series number``.
        channels_of: ``sku -> its channels``.
        offsets: ``(n_series + 1,)`` first forecast row of each series.
        days: Forecast dates as days since 1970-01-01 (int32), one per row.
        means: Mean forecast per row.
        quantiles: ``(n_levels, rows)`` quantile forecasts, one contiguous row per level (so one
            series' slice of a level serialises without a copy).
        levels: Quantile levels of ``quantiles``' columns.
        policies: ``(sku, channel) -> published policy row`` (NaN as None), stored by column.
        segments: The run's segmentation, one row per series.
        load_seconds: How long loading took.
    """

    run: RunInfo
    keys: list[tuple[str, str]]
    index: dict[tuple[str, str], int]
    channels_of: dict[str, list[str]]
    offsets: np.ndarray
    days: np.ndarray
    means: np.ndarray
    quantiles: np.ndarray
    levels: tuple[float, ...]
    policies: PolicyTable
    segments: pd.DataFrame
    load_seconds: float = 0.0
    _date_text: dict[int, str] = field(default_factory=dict, repr=False)
    _dates: dict[tuple[int, int], list[str]] = field(default_factory=dict, repr=False)

    @property
    def run_id(self) -> int:
        """The run's id."""
        return self.run.id

    @property
    def run_date(self) -> str | None:
        """When the run was published (ISO 8601, UTC)."""
        return self.run.published_at.isoformat() if self.run.published_at else None

    @cached_property
    def max_horizon(self) -> int:
        """Days of the longest published series."""
        return int(np.diff(self.offsets).max()) if len(self.keys) else 0

    @cached_property
    def level_names(self) -> list[str]:
        """Column names of the published quantile levels (``"0.005"``, ...)."""
        return [quantile_column(q) for q in self.levels]

    @property
    def nbytes(self) -> int:
        """Bytes held by the numeric arrays (the bulk of the loaded run)."""
        return int(self.offsets.nbytes + self.days.nbytes + self.means.nbytes + self.quantiles.nbytes)

    def header(self) -> dict[str, Any]:
        """The run fields every response carries."""
        return {"run_id": self.run.id, "model_version": self.run.model_version, "run_date": self.run_date}

    def locate(self, sku: str, channel: str) -> int:
        """The series number of ``(sku, channel)``.

        Raises:
            ApiError: 404 naming the closest known SKUs or the SKU's channels.
        """
        pos = self.index.get((sku, channel))
        if pos is not None:
            return pos
        raise self.unknown(sku, channel)

    def unknown(self, sku: str, channel: str) -> ApiError:
        """The 404 for an unknown series, with the closest matches."""
        body = self.suggest(sku, channel)
        if sku in self.channels_of:
            msg = (
                f"SKU '{sku}' has no channel '{channel}' in run {self.run.id}. "
                f"Its channels are {self.channels_of[sku]}. Fix: use one of them."
            )
        else:
            msg = (
                f"Unknown SKU '{sku}' in run {self.run.id}. Closest matches: {body['closest'] or 'none'}. "
                "Fix: check the SKU code."
            )
        return ApiError(404, msg, {"sku": sku, "channel": channel, **body})

    def suggest(self, sku: str, channel: str) -> dict[str, list[str]]:
        """Closest ``sku/channel`` matches of an unknown series."""
        if sku in self.channels_of:
            return {"closest": [f"{sku}/{c}" for c in closest(channel, self.channels_of[sku])]}
        names = closest(sku, self.channels_of)
        return {"closest": [f"{s}/{c}" for s in names for c in self.channels_of[s]][:5]}

    def not_found_item(self, sku: str, channel: str, n_before: int) -> dict[str, Any]:
        """A ``not_found`` entry of a batch; closest matches only for the first few (difflib is slow)."""
        suggestions = self.suggest(sku, channel) if n_before < _SUGGEST_LIMIT else {"closest": []}
        return {"sku": sku, "channel": channel, **suggestions}

    def date_text(self, day: int) -> str:
        """ISO date of a day number (cached: a run has few distinct dates)."""
        text = self._date_text.get(day)
        if text is None:
            text = str(_EPOCH + np.timedelta64(day, "D"))
            self._date_text[day] = text
        return text

    def check_horizon(self, horizon: int | None) -> int:
        """The horizon to serve: ``horizon`` or the whole published one.

        Raises:
            ApiError: 400 naming the maximum if ``horizon`` is past what was published.
        """
        top = self.max_horizon
        if horizon is None:
            return top
        if horizon > top:
            raise ApiError(
                400,
                f"The 'horizon' must be at most {top} days: run {self.run.id} was published for {top} days. "
                f"Got {horizon}. Fix: ask for {top} days or fewer.",
                {"max_horizon": top},
            )
        return horizon

    def level_columns(self, wanted: Sequence[float] | None) -> tuple[list[int], list[str]]:
        """Column numbers and names of the requested quantile levels (all when None).

        Raises:
            ApiError: 400 naming the published levels if one was not published.
        """
        if wanted is None:
            return list(range(len(self.levels))), self.level_names
        names = {name: i for i, name in enumerate(self.level_names)}
        cols, out = [], []
        for q in wanted:
            name = quantile_column(q)
            if name not in names:
                raise ApiError(
                    400,
                    f"The 'quantiles' level {q:g} was not published in run {self.run.id}. Published levels: "
                    f"{list(names)}. Fix: ask for some of those.",
                    {"published_quantiles": list(self.levels)},
                )
            cols.append(names[name])
            out.append(name)
        return cols, out

    def dates(self, lo: int, hi: int) -> list[str]:
        """ISO dates of forecast rows ``lo:hi`` (cached: series of a run share their dates)."""
        first = int(self.days[lo])
        if int(self.days[hi - 1]) - first != hi - lo - 1:  # not consecutive days: build them
            return [self.date_text(d) for d in self.days[lo:hi].tolist()]
        key = (first, hi - lo)
        cached = self._dates.get(key)
        if cached is None:
            cached = [self.date_text(first + i) for i in range(hi - lo)]
            self._dates[key] = cached
        return cached

    def series(self, pos: int, horizon: int, cols: list[int], names: list[str]) -> dict[str, Any]:
        """Columns ``dates``, ``mean`` and ``quantiles`` (level -> values) of series ``pos``.

        Values are numpy views, written by orjson without copies (see ``responses.json_response``).
        """
        lo = int(self.offsets[pos])
        hi = min(int(self.offsets[pos + 1]), lo + horizon)
        return {
            "dates": self.dates(lo, hi),
            "mean": self.means[lo:hi],
            "quantiles": {name: self.quantiles[col, lo:hi] for col, name in zip(cols, names, strict=True)},
        }


class PolicyTable:
    """The run's policy rows stored by column; a row dict is built only when asked for.

    One dict per series would hold ~20 boxed values each and scatter them through memory; columns keep
    the table compact and a row costs a couple of microseconds to assemble.

    Args:
        frame: ``ResultStore.get_policies`` output.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        skus, channels = frame["sku"].astype(str).tolist(), frame["channel"].astype(str).tolist()
        self.index = {key: i for i, key in enumerate(zip(skus, channels, strict=True))}
        self.columns = {str(col): [plain(v) for v in frame[col].tolist()] for col in frame.columns}

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """The row of ``(sku, channel)`` (NaN as None), or None."""
        pos = self.index.get(key)
        if pos is None:
            return None
        return {col: values[pos] for col, values in self.columns.items()}

    def __getitem__(self, key: tuple[str, str]) -> dict[str, Any]:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row


def load_run(store: ResultStore, run: RunInfo) -> ServedRun:
    """Read a published run from the store into a :class:`ServedRun`."""
    started = time.perf_counter()
    frame = store.get_forecasts(run.id)
    n_rows = len(frame)
    log.info("run %d: %d forecast rows read (%.1f s)", run.id, n_rows, time.perf_counter() - started)
    sku = frame["sku"].to_numpy(dtype=object)
    channel = frame["channel"].to_numpy(dtype=object)
    change = np.ones(n_rows, dtype=bool)
    if n_rows > 1:
        change[1:] = (sku[1:] != sku[:-1]) | (channel[1:] != channel[:-1])
    starts = np.flatnonzero(change)
    # Fixed-width copies: the keys kept must not be the frame's own string objects, which would pin
    # the memory of the whole (freed) frame (see _compact_memory).
    key_sku, key_channel = sku[starts].astype(str), channel[starts].astype(str)
    levels = tuple(run.quantiles)
    qcols = [quantile_column(q) for q in levels]
    days = (frame["date"].to_numpy(dtype="datetime64[D]") - _EPOCH).astype(np.int32)
    means = frame["mean"].to_numpy(dtype=np.float64).copy()
    quantiles = np.ascontiguousarray(frame[qcols].to_numpy(dtype=np.float64).T)
    del frame, sku, channel
    gc.collect()
    keys = list(zip(key_sku.tolist(), key_channel.tolist(), strict=True))
    channels_of: dict[str, list[str]] = {}
    for s, c in keys:
        channels_of.setdefault(s, []).append(c)
    served = ServedRun(
        run=run,
        keys=keys,
        index={k: i for i, k in enumerate(keys)},
        channels_of=channels_of,
        offsets=np.append(starts, n_rows).astype(np.int64),
        days=days,
        means=means,
        quantiles=quantiles,
        levels=levels,
        policies=PolicyTable(store.get_policies(run.id)),
        segments=store.get_segments(run.id),
    )
    served.load_seconds = time.perf_counter() - started
    log.info(
        "run %d loaded: %d series, %.1f MB of arrays in %.1f s",
        run.id, len(keys), served.nbytes / 1e6, served.load_seconds,
    )
    return served


def _compact_memory() -> None:
    """After a swap: free the old run and the load's temporaries, then keep the GC off the new run.

    ``gc.freeze`` moves the run's many small objects (policy rows, segment frame) out of the
    collector's generations, so a full collection no longer walks them: without it the periodic
    gen-2 collection shows up as tail latency. ``malloc_trim`` hands the loader's freed temporaries
    (the full forecast frame) back to the operating system, so RSS reflects the served run.
    """
    gc.unfreeze()  # the previous run was frozen: let this collection see (and free) what is left of it
    gc.collect()
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class ServedState:
    """The current served run and the reload that swaps it.

    Args:
        store: Where runs are published.
        on_swap: Called with the new run after each swap (e.g. to update metrics).
    """

    def __init__(self, store: ResultStore, on_swap: Callable[[ServedRun], None] | None = None) -> None:
        self.store = store
        self.current: ServedRun | None = None
        self.last_checked: datetime | None = None
        self.last_error: str | None = None
        self._on_swap = on_swap
        # Serialises reloads (poller and admin) so one run is never loaded twice at once; readers never
        # take it.
        self._reload_lock = threading.Lock()

    def require(self) -> ServedRun:
        """The current run (take it once per request).

        Raises:
            ApiError: 503 when no run is loaded.
        """
        served = self.current
        if served is None:
            raise no_run()
        return served

    def refresh(self, force: bool = False) -> bool:
        """Load the latest published run if it differs from the served one (or always, if ``force``).

        Returns:
            True if a new run was swapped in.
        """
        with self._reload_lock:
            try:
                latest = self.store.latest_run()
                self.last_checked = datetime.now(UTC)
                if latest is None:
                    self.last_error = None
                    return False
                current = self.current
                if current is not None and current.run.id == latest.id and not force:
                    self.last_error = None
                    return False
                fresh = load_run(self.store, latest)
            except Exception as exc:  # keep serving the old run: a store hiccup must not take the API down
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("Could not reload the served run; still serving the previous one")
                return False
            previous_id = self.current.run.id if self.current is not None else None
            self.current = fresh  # the atomic swap: one reference assignment
            self.last_error = None
            if self._on_swap is not None:
                self._on_swap(fresh)
            _compact_memory()
        log.info("serving run %d (was %s)", fresh.run.id, previous_id)
        return True
