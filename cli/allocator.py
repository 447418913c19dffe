"""Let the C allocator keep freed memory, so the network does not pay to zero fresh pages every step.

glibc's malloc hands each allocation above its mmap threshold (32 MB at most, adjusted as the
program runs) straight to the kernel and returns it on free; the next allocation of that size gets
new pages, which the kernel zeroes on first touch. The network's activations at 2K are tens of MB
each, so every layer of every frame did that: the network alone on 8 frames of a 2K shot spent
4 of its 28 CPU seconds in the kernel, 2.5 million page faults. With a 256 MB threshold and
freed memory kept up to 1 GB, `rmpsam-matte bench pipeline` gives 1.55 s/frame for the network
and 1.98 for the whole job, against 1.82 and 2.16 with `RMPSAM_SYSTEM_MALLOC=1`; the job's peak
resident memory grows from 1.91 to 2.02 GB. A larger threshold gained no more speed and kept
another 340 MB.

Only on glibc (Linux), and only where nobody has tuned malloc already: `MALLOC_MMAP_THRESHOLD_`,
`MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES` in the environment leave it as configured, as does
`RMPSAM_SYSTEM_MALLOC=1`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD_BYTES = 256 * 2**20
TRIM_THRESHOLD_BYTES = 2**30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters from glibc's malloc.h
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "RMPSAM_SYSTEM_MALLOC")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True if they were set."""
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
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
