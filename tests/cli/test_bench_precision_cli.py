"""`rmpsam-matte bench quality|propagation --compare-precision` on the tiny random network: both
precisions measured on the same frames, the int8-against-float32 figures and the targets printed.
(The shipped weights' numbers are in the README; here only the mechanics, in seconds.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rmpsam_model.bfloat16 import bfloat16_units
from rmpsam_model.int8 import CACHE_ENVIRONMENT

pytest.importorskip("onnxruntime")

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def bench(*args, cache) -> subprocess.CompletedProcess:
    environment = {**os.environ, CACHE_ENVIRONMENT: str(cache)}
    return subprocess.run([str(COMMAND), "bench", *map(str, args)], capture_output=True, text=True, timeout=300,
                          env=environment)


def test_quality_and_propagation_compare_float32_with_int8(tiny_weights, tmp_path):
    quality = bench("quality", "--compare-precision", "--frames", "3", "--weights", tiny_weights, "--json", cache=tmp_path)
    assert quality.returncode == 0, quality.stderr
    report = json.loads(quality.stdout)
    assert report["masks"] == 2 * report["float32"]["instances"] > 0
    assert 0.5 < report["mask_iou_int8_vs_float32"] <= 1.0
    assert 0 <= report["found_masks"] <= report["masks"]
    found = report["found_mask_iou_int8_vs_float32"]
    assert (found is None) == (report["found_masks"] == 0) and (found is None or 0.0 <= found <= 1.0)
    assert {"box_iou", "click_iou"} <= set(report["int8"]) and report["precision"] == "int8"

    bfloat16 = bench("quality", "--compare-precision", "--precision", "int8-bf16", "--frames", "3", "--weights",
                     tiny_weights, "--json", cache=tmp_path)
    assert bfloat16.returncode == 0, bfloat16.stderr
    other = json.loads(bfloat16.stdout)
    assert other["precision"] == "int8-bf16" and {"box_iou", "click_iou"} <= set(other["int8-bf16"])
    assert other["float32"] == report["float32"]  # the same prompts on the same frames
    assert 0.5 < other["mask_iou_int8_vs_float32"] <= 1.0

    propagation = bench("propagation", "--compare-precision", "--shots", "1", "--frames", "4", "--size", "160x96",
                        "--weights", tiny_weights, cache=tmp_path)
    assert propagation.returncode == 0, propagation.stderr
    rows = re.findall(r"^default scheme, (float32|int8|int8-bf16)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)",
                      propagation.stdout, re.MULTILINE)
    reduced = ("int8", "int8-bf16") if bfloat16_units() else ("int8",)  # int8-bf16 runs where the CPU has bfloat16 units
    assert [row[0] for row in rows] == ["float32", *reduced], propagation.stdout
    assert ("int8-bf16 not run: this CPU has no bfloat16 units" in propagation.stdout) == (len(reduced) == 1)
    for precision in reduced:
        assert re.search(rf"^{precision} - float32: J&F [+-][\d.]+ \(target \|x\| <= 0.005: (met|not met)\), "
                         rf"dtSSD [+-][\d.]+%", propagation.stdout, re.MULTILINE), propagation.stdout
