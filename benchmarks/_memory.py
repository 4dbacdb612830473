"""Peak memory of a process tree, sampled: what the machine actually had to hold.

``ru_maxrss`` of children overstates: a worker forked from a large parent reports the parent's
resident pages as its own until it execs, and shared pages count once per process. The proportional
set size (PSS) splits each shared page between the processes mapping it, so the sum over the tree is
the memory the job occupied. A background thread samples it.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import psutil


def tree_pss_bytes(root: psutil.Process) -> int:
    """PSS of ``root`` and all its descendants, in bytes (processes that vanish meanwhile are skipped)."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


class PeakMemory:
    """Context manager sampling this process tree's PSS every ``interval`` seconds.

    Attributes:
        peak_gb: The largest sample so far, in GB (10**9 bytes would flatter: GiB here, 1024**3).
        peak_at: ``time.perf_counter()`` of that sample.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_gb = 0.0
        self.peak_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        root = psutil.Process()
        while not self._stop.is_set():
            gb = tree_pss_bytes(root) / 1024**3
            if gb > self.peak_gb:
                self.peak_gb, self.peak_at = gb, time.perf_counter()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
