"""`rmpsam-matte bench refine` on a small drawn plate: both methods, both object sizes, refinement ahead."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def test_bench_refine_reports_refinement_against_bilinear_for_two_object_sizes():
    result = subprocess.run([str(COMMAND), "bench", "refine", "--size", "512x270", "--stride", "4", "--repeats", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^(bilinear upsampling|edge refinement), object over (\d+)% of the frame"
                      r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
                      result.stdout, re.MULTILINE)
    assert [r[0] for r in rows] == ["bilinear upsampling", "edge refinement"] * 2, result.stdout
    assert int(rows[0][1]) > int(rows[2][1]) > 0  # a large object, then a small one
    for bilinear, refined in (rows[0:2], rows[2:4]):
        assert float(refined[3]) < float(bilinear[3])  # edge-band error
        assert float(refined[4]) >= float(bilinear[4])  # IoU
