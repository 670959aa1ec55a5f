"""Hand memory that a step freed back to the operating system.

Steps of one run share a process (the in-process executor). Kuzu and Arrow free their buffers into
allocator arenas that the process keeps: after a 1M-variant graph load 1 GB stayed resident, and
the next step's peak came on top of it. `malloc_trim` (glibc) and Arrow's `release_unused` return it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa


def release_free_memory() -> None:
    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc:
        trim = getattr(ctypes.CDLL(libc), "malloc_trim", None)  # glibc only; elsewhere nothing to do
        if trim is not None:
            trim(0)
