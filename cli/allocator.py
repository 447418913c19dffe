"""Let the C allocator keep freed memory, so the network does not pay to zero fresh pages every step.

glibc's malloc hands each allocation above its mmap threshold (32 MB at most, adjusted as the
program runs) straight to the kernel and returns it on free; the next allocation of that size gets
new pages, which the kernel zeroes on first touch. The network's activations at 2K are tens of MB
each, so every layer of every frame did that, and a noticeable share of the network's CPU time
went to page faults in the kernel. A 256 MB threshold with freed memory kept up to 1 GB buys
speed for a little more resident memory; a larger threshold gained no more speed and kept more
memory. `rmpsam-matte bench pipeline`, run with and without `RMPSAM_SYSTEM_MALLOC=1`, measures
it (the README's "Memory" item has the numbers).

Every thread allocates from one arena (`M_ARENA_MAX` 1). glibc otherwise gives threads arenas of
their own, and each keeps the memory freed into it for its own thread: a job's reader, finisher
and network threads all allocate whole frames, so each arena grew to its own peak and a frame's
new arrays kept landing on fresh pages. With one arena, the `bench pipeline --network none` job
spent 18% of its CPU in the kernel instead of 28% (most of it zeroing fresh pages, by `perf`), and
11% (one worker) to 30% (two) less CPU a frame with about 15% less peak memory (README, "Memory").
The one lock is taken per allocation, and a frame's work makes few large ones.

Only on glibc (Linux), and only where nobody has tuned malloc already: `MALLOC_MMAP_THRESHOLD_`,
`MALLOC_TRIM_THRESHOLD_`, `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` in the environment leave it as
configured, as does `RMPSAM_SYSTEM_MALLOC=1`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD_BYTES = 256 * 2**20
TRIM_THRESHOLD_BYTES = 2**30
ARENAS = 1
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # mallopt parameters from glibc's malloc.h
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES",
                  "RMPSAM_SYSTEM_MALLOC")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds and share one arena, for this process; True if set.

    Called before the command starts any thread: a limit on arenas binds threads that allocate
    for the first time after it."""
    if any(os.environ.get(name) for name in _USER_SETTINGS):
        return False
    library = ctypes.util.find_library("c")
    if library is None:
        return False
    try:
        mallopt = ctypes.CDLL(library).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator behaves differently
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
                and mallopt(_M_ARENA_MAX, ARENAS))
