"""The command lets OpenCV's pool threads sleep between calls instead of spinning (`rmpsam_cli.main`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Short parallel OpenCV calls with idle gaps, as a job's finishing makes them: spinning workers
# burn CPU in every gap.
PROBE = """
import json, os, sys, time
if sys.argv[1] == "command":
    import rmpsam_cli.main  # what `rmpsam-matte` loads before anything else
import cv2
import numpy as np
image = np.random.default_rng(0).random((256, 512), dtype=np.float32)
cv2.GaussianBlur(image, (5, 5), 0)
started = time.process_time()
for _ in range(300):
    cv2.GaussianBlur(image, (5, 5), 0)
    time.sleep(0.001)
print(json.dumps({"cpu_s": time.process_time() - started,
                  "worker": os.environ.get("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER"),
                  "main": os.environ.get("OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN")}))
"""

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenCV runs no thread pool on one core")


def _probe(mode: str, **environment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_THREAD_POOL")}
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                            env={**env, **environment}, timeout=120, check=True)
    return json.loads(result.stdout)


def test_the_command_stops_opencvs_idle_workers_spinning():
    plain = min(_probe("plain")["cpu_s"] for _ in range(2))
    command = [_probe("command") for _ in range(2)]
    assert all(run["worker"] == "0" and run["main"] == "0" for run in command)
    assert min(run["cpu_s"] for run in command) < 0.75 * plain, (plain, command)


def test_a_users_own_opencv_pool_setting_is_kept():
    kept = _probe("command", OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER="500")
    assert kept["worker"] == "500" and kept["main"] == "0"
