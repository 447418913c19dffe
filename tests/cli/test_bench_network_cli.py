"""`rmpsam-matte bench network` with its int8 and bf16 rows, on the parity-tiny network at a small size."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from rmpsam_model.bfloat16 import bfloat16_units  # noqa: E402

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


def test_bench_network_times_bf16_products_only_where_the_cpu_has_bfloat16_units():
    result = subprocess.run([str(COMMAND), "bench", "network", "--config", "parity-tiny", "--size", "128x64", "--repeats",
                             "1", "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bfloat16_units"] == bfloat16_units()
    if report["bfloat16_units"] is None:
        assert report["bfloat16_parts"] == {} and report["int8_bfloat16_frame_seconds"] is None
        return
    parts = report["bfloat16_parts"]
    assert set(parts) == {"neck", "decoder (100 queries)"}
    for name, part in parts.items():  # the same products as float32's, so the same FLOPs
        assert part["gflop"] == pytest.approx(report["parts"][name]["gflop"], rel=1e-6) and part["seconds"] > 0
    expected = report["int8_backbone_seconds"] + sum(part["seconds"] for part in parts.values())
    assert report["int8_bfloat16_frame_seconds"] == pytest.approx(expected)
