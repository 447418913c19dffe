"""`rmpsam-matte bench propagation` options on the tiny random network: `--compare-stabiliser-size`
(the default scheme without the stabiliser, with it at the network image's size and at half of it,
on the same shots) and `--default-only` (the baseline and default rows alone), with negative clicks. The shipped
weights' numbers are in the README; here only the mechanics."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def test_the_stabiliser_sizes_are_compared_on_the_same_shots(tiny_weights):
    result = subprocess.run([str(COMMAND), "bench", "propagation", "--compare-stabiliser-size", "--shots", "1",
                             "--frames", "5", "--size", "160x96", "--weights", str(tiny_weights)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^released clip mode(, no stabiliser| \+ stabiliser at the network size|"
                      r" \+ stabiliser at half the network size)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)\s+([\d.]+)",
                      result.stdout, re.MULTILINE)
    assert [row[0] for row in rows] == [", no stabiliser", " + stabiliser at the network size",
                                        " + stabiliser at half the network size"], result.stdout
    assert rows[0][4] == "+0.000"  # the first row is the baseline
    dtssd = [float(row[5]) for row in rows]
    assert dtssd[2] != dtssd[1], result.stdout  # the half size really ran


def test_default_only_scores_the_baseline_and_the_default_scheme(tiny_weights):
    result = subprocess.run([str(COMMAND), "bench", "propagation", "--default-only", "--shots", "1", "--frames", "4",
                             "--size", "160x96", "--negative-clicks", "1", "--weights", str(tiny_weights)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "1 negative click(s) per instance" in result.stdout.splitlines()[0]
    rows = re.findall(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)\s+([\d.]+)\s+(\d+)$",
                      result.stdout, re.MULTILINE)
    assert [row[0] for row in rows] == ["nearest keyframe, per frame", "released clip mode + temporal (default)"]
    assert rows[0][4] == "+0.000"
