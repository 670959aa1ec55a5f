"""Hand memory that a step freed back to the operating system, and measure the most each step held.

Steps of one run share a process (the in-process executor). Kuzu, LanceDB and Arrow free their
buffers into allocator arenas that the process keeps: after a 1M-variant graph load 1 GB stayed
resident, and the next step's peak came on top of it. `malloc_trim` (glibc) and Arrow's
`release_unused` return it; `bound_heap_arenas` leaves less of it to return.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
HEAP_ARENAS = 2
# Blocks this large and larger are mapped on their own. 32 MiB, glibc's own ceiling for the threshold
# it adapts: at 4 MiB every scan buffer was a fresh mapping, and an exact search over 1M vectors took
# 2.9 s a query against 1.0 s (the 1M ingest's peak: 1,388 MB at 4 MiB, 1,410 at 32, 1,531 unset).
MMAP_THRESHOLD_BYTES = 32 << 20
_TUNED_BY_ENVIRONMENT = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_RESET_HIGH_WATER = "5"  # proc(5), /proc/pid/clear_refs: the peak resident size starts again from the current one
_highest_before_resets_kb = 0  # the process's peak before `peak_resident` last started it again


def _libc_function(name: str):
    """A function of the C library this process runs on; None where it lacks one (not glibc)."""
    return getattr(ctypes.CDLL(None), name, None)


def bound_heap_arenas() -> None:
    """Before the process's threads allocate: at most `HEAP_ARENAS` heap arenas, and blocks of
    `MMAP_THRESHOLD_BYTES` and more mapped on their own, so that freeing them unmaps them. glibc's
    defaults (an arena per thread, up to 8 per core; large blocks kept on the heap once one was
    freed) let LanceDB's and Kuzu's threads scatter a 1M-variant write over arenas that trimming
    could not empty: replaying the LanceDB step of a 1M file, its peak fell from 1,623 to 1,081 MB.
    Settings given in the environment win."""
    mallopt = _libc_function("mallopt")
    if mallopt is None or any(name in os.environ for name in _TUNED_BY_ENVIRONMENT):
        return
    mallopt(_M_ARENA_MAX, HEAP_ARENAS)
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def release_free_memory() -> None:
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _libc_function("malloc_trim")  # glibc only; elsewhere nothing to do
    if trim is not None:
        trim(0)


@dataclass
class Peak:
    mb: float | None = None  # None: this system reports no peak (not Linux)


def _high_water_kb() -> int | None:
    try:
        with open(_STATUS) as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), None)
    except OSError:
        return None


@contextmanager
def peak_resident() -> Iterator[Peak]:
    """The most memory this process held resident while the block ran (MB, in the `Peak` given),
    from the kernel's high-water mark started again at the block's start: a step's own peak, not
    the peak of the steps before it in the process. Where the mark cannot be started again, the
    process's peak so far. `process_peak_mb` still tells the process's own."""
    global _highest_before_resets_kb
    peak = Peak()
    before = _high_water_kb()
    if before is not None:
        try:
            with open(_CLEAR_REFS, "w") as clear_refs:
                clear_refs.write(_RESET_HIGH_WATER)
            _highest_before_resets_kb = max(_highest_before_resets_kb, before)
        except OSError:
            pass
    try:
        yield peak
    finally:
        after = _high_water_kb()
        peak.mb = None if after is None else round(after / 1024, 1)


def process_peak_mb() -> float | None:
    """The most memory this process has held resident since it started, across `peak_resident`'s
    restarts of the kernel's mark."""
    now = _high_water_kb()
    return None if now is None else max(now, _highest_before_resets_kb) / 1024
