"""The allocator hands freed large blocks back to the operating system."""

from __future__ import annotations

import numpy as np
import psutil
import pytest

from forecasting.infrastructure.memory import _glibc, map_large_blocks, release_freed_memory

glibc_only = pytest.mark.skipif(_glibc() is None, reason="the C library is not glibc")


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


@glibc_only
def test_freed_large_blocks_leave_the_process() -> None:
    # A freed 4 MiB mapped block raises glibc's own threshold above 2 MiB (unless it is fixed).
    first = np.ones(1 << 19)
    del first
    assert map_large_blocks()
    # 2 MiB blocks with small heap blocks between them: on the heap, freeing the large ones would
    # leave their pages inside it (0 MiB returned without map_large_blocks); mapped on their own,
    # they are unmapped when freed.
    blocks, small = [], []
    for _ in range(150):
        block = np.ones(1 << 18)  # 2 MiB
        blocks.append(block)
        small.append(bytearray(1000))
    held = _rss()
    del blocks, block
    released = _rss()
    assert held - released > 250 * 2**20, (held, released)
    assert len(small) == 150


@glibc_only
def test_release_freed_memory_returns_the_pages_of_freed_heap_blocks() -> None:
    # 4 KB blocks come from the heap whatever the thresholds; the last one, kept, pins the heap's top,
    # so freeing the others leaves 200 MB of free pages inside the heap, which only a trim returns.
    chunks = [bytearray(4000) for _ in range(50_000)]
    pin = chunks.pop()
    del chunks
    before = _rss()
    assert release_freed_memory()
    after = _rss()
    assert before - after > 100 * 2**20, (before, after)
    assert len(pin) == 4000


def test_map_large_blocks_rejects_a_threshold_below_a_page() -> None:
    with pytest.raises(ValueError, match="'threshold' must be at least 4096"):
        map_large_blocks(100)
