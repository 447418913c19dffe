"""The CLI's malloc setting: freed memory is reused without new page faults, unless opted out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys
import numpy as np
from rmpsam_cli.allocator import keep_freed_memory
applied = keep_freed_memory()
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(100 * 2**20 // 8)  # 100 MB, written in full, then freed
    del block
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")


def _probe(**environment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "RMPSAM_SYSTEM"))}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env={**env, **environment},
                            timeout=120, check=True)
    return json.loads(result.stdout)


def test_freed_blocks_are_reused_without_page_faults():
    # Counted in faults, not pages: the kernel may back large blocks with huge pages.
    kept = _probe()
    assert kept["applied"] is True and kept["faults"][0] > 0
    assert max(kept["faults"][1:]) <= kept["faults"][0] // 20  # later blocks reuse the first one's memory
    system = _probe(RMPSAM_SYSTEM_MALLOC="1")
    assert system["applied"] is False
    assert min(system["faults"][1:]) >= system["faults"][0] // 2  # returned to the kernel, faulted in again


THREAD_PROBE = """
import ctypes, json, sys, tempfile, threading
import numpy as np
from rmpsam_cli.allocator import keep_freed_memory
applied = keep_freed_memory()
together = threading.Barrier(4)
def allocate():
    block = np.ones(8 * 2**20 // 8)  # from this thread's arena
    together.wait()  # all four hold a block at once: none can take over another's freed arena
    del block
threads = [threading.Thread(target=allocate) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml") as report:
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    text = open(report.name).read()
print(json.dumps({"applied": applied, "arenas": text.count("<heap nr=")}))
"""


def _thread_probe(**environment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "RMPSAM_SYSTEM"))}
    result = subprocess.run([sys.executable, "-c", THREAD_PROBE], capture_output=True, text=True,
                            env={**env, **environment}, timeout=120, check=True)
    return json.loads(result.stdout)


def test_threads_share_one_arena_unless_opted_out():
    """A job's reader, finisher and network threads allocate whole frames; in one arena the memory
    one frees serves the next frame of any thread (glibc's `malloc_info` lists the arenas)."""
    shared = _thread_probe()
    assert shared["applied"] is True and shared["arenas"] == 1
    assert _thread_probe(RMPSAM_SYSTEM_MALLOC="1")["arenas"] > 1
    assert _thread_probe(MALLOC_ARENA_MAX="3")["applied"] is False  # a setting of the user's own is left alone
