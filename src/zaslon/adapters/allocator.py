"""The C allocator's settings for a long-running process (``zaslon serve``, ``zaslon worker``).

glibc raises its mmap threshold each time a large block is freed, so later large temporaries (the trace
ledger's compactions, the feature log's blocks, a batch's arrays) come from the heap, where a long-lived small
block above them keeps the heap from shrinking: freed memory stays resident. A fixed threshold maps each large
block on its own and returns it when freed; fewer arenas keep the threads' freed memory in fewer heaps. Measured
with the 5-minute sustained load (BENCHMARKS.md, "The 5-minute sustained load").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_ARENA_MAX = -8  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def tune(mmap_threshold: int, arena_max: int) -> dict[str, int]:
    """Apply what is set (0 leaves glibc's default; a ``MALLOC_*_`` variable in the environment wins, glibc
    having read it already). Returns what was applied; nothing on a C library other than glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return {}
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return {}
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done: dict[str, int] = {}
    for option, value, env in ((_M_MMAP_THRESHOLD, mmap_threshold, "MALLOC_MMAP_THRESHOLD_"),
                               (_M_ARENA_MAX, arena_max, "MALLOC_ARENA_MAX")):
        if value > 0 and env not in os.environ and mallopt(option, value) == 1:
            done[env] = value
    return done
