"""`rmpsam-matte bench io` on a few tiny frames: it runs, and reports the rows it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def test_bench_io_json_has_the_baseline_first_and_ours_and_the_like_for_like_copy():
    result = subprocess.run([str(COMMAND), "bench", "io", "--frames", "2", "--size", "64x32", "--workers", "2",
                             "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["frames"], report["width"], report["height"], report["workers"]) == (2, 64, 32, 2)
    names = [row["name"] for row in report["results"]]
    assert names[0] == "OpenImageIO read/write loop"
    assert any(name.startswith("ours:") for name in names)
    assert any(name.startswith("ours without the Cryptomatte") for name in names)
    assert "reads only: OpenImageIO, as float" in names and "reads only: ours (read_plate)" in names
    assert names[-1] == "OpenImageIO read/write loop on our output files"
    assert report["results"][0]["ratio_to_baseline"] == 1.0
    assert all(row["seconds"] > 0 and row["cpu_seconds"] > 0 and row["frames_per_second"] > 0 for row in report["results"])
