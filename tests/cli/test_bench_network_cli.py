"""`rmpsam-matte bench network` with its int8 rows, on the parity-tiny network at a small size."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def test_bench_network_reports_int8_against_the_same_floor():
    result = subprocess.run([str(COMMAND), "bench", "network", "--config", "parity-tiny", "--size", "128x64", "--repeats", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    fused_row = r"\s+([\d.]+)\s+(\d+)\s+\d+\s+(\d+)\s+([\d.]+)x$"  # GFLOP, floor ms, (eager ms), fused ms, ratio
    int8_row = r"\s+([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)x$"  # no eager column
    whole = re.search(r"^whole frame" + fused_row, result.stdout, re.MULTILINE)
    int8 = re.search(r"^whole frame, int8 backbone" + int8_row, result.stdout, re.MULTILINE)
    backbone = re.search(r"^backbone, int8" + int8_row, result.stdout, re.MULTILINE)
    assert whole and int8 and backbone, result.stdout
    assert whole.group(1) == int8.group(1) and whole.group(2) == int8.group(2)  # same FLOPs, same floor
    assert float(int8.group(3)) > 0 and float(int8.group(4)) > 0  # (the tiny backbone alone may round to 0 ms)
    # The int8 frame is the int8 backbone plus the float32 neck and decoder of the same run.
    part = r"^(neck|decoder \(100 queries\))\s+[\d.]+\s+\d+\s+\d+\s+(\d+)"
    float_parts = {m.group(1): float(m.group(2)) for m in re.finditer(part, result.stdout, re.MULTILINE)}
    assert len(float_parts) == 2, result.stdout
    assert abs(float(int8.group(3)) - float(backbone.group(3)) - sum(float_parts.values())) <= 2  # rounding to 1 ms
