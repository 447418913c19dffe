"""The README's Python API example, run exactly as written, in a folder where `rmpsam-matte demo` ran."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import OpenImageIO as oiio

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- the block below is run as written by tests/api/test_readme_example.py -->"


def readme_example() -> str:
    text = README.read_text()
    after = text[text.index(MARKER) + len(MARKER):]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def test_the_readme_example_runs_as_written(tmp_path):
    rmpsam = Path(sys.executable).parent / "rmpsam-matte"
    demo = subprocess.run([str(rmpsam), "demo", "--frames", "4", "--size", "384x216", "--progress", "none"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr
    example = readme_example()
    assert len([line for line in example.splitlines() if line.strip() and not line.startswith("#")]) <= 10
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    printed = [line.split() for line in result.stdout.splitlines()]
    assert [int(frame) for frame, _ in printed] == [1001, 1002, 1003, 1004]
    assert all(0.0 < float(mean) < 1.0 for _, mean in printed)
    for name in ("job", "session"):
        files = sorted(p.name for p in (tmp_path / "rmpsam_demo" / "api").glob(f"{name}.*.exr"))
        assert files == [f"{name}.{frame}.exr" for frame in range(1001, 1005)]
    image = oiio.ImageInput.open(str(tmp_path / "rmpsam_demo" / "api" / "session.1002.exr"))
    assert "hero.A" in image.spec().channelnames
    image.close()
