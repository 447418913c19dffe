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
