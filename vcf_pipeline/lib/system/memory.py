"""Hand memory that a step freed back to the operating system.

Steps of one run share a process (the in-process executor). Kuzu, LanceDB and Arrow free their
buffers into allocator arenas that the process keeps: after a 1M-variant graph load 1 GB stayed
resident, and the next step's peak came on top of it. `malloc_trim` (glibc) and Arrow's
`release_unused` return it; `bound_heap_arenas` leaves less of it to return.
"""

from __future__ import annotations

import ctypes
import os

# glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
HEAP_ARENAS = 2
MMAP_THRESHOLD_BYTES = 4 << 20
_TUNED_BY_ENVIRONMENT = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def _libc_function(name: str):
    """A function of the C library this process runs on; None where it lacks one (not glibc)."""
    return getattr(ctypes.CDLL(None), name, None)


def bound_heap_arenas() -> None:
    """Before the process's threads allocate: at most `HEAP_ARENAS` heap arenas, and blocks of 4 MiB
    and more mapped on their own, so that freeing them unmaps them. glibc's defaults (an arena per
    thread, up to 8 per core; large blocks kept on the heap once one was freed) let LanceDB's and
    Kuzu's threads scatter a 1M-variant write over arenas that trimming could not empty: replaying
    the LanceDB step of a 1M file, its peak fell from 1,623 to 1,081 MB. Settings given in the
    environment win."""
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
