"""A real `rmpsam-matte run` output (tiny random network, generated shot), for the commands that read one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from shot_fixtures import write_prompted_shot, write_tiny_weights

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


@pytest.fixture(scope="session")
def run_output(tmp_path_factory) -> Path:
    """A folder with `shot/` (plate.1001-1006.exr, prompts.json keyed on 1001 and 1004) and the mattes
    `run` wrote from them, `mattes/m.####.exr` (`--overlap exclusive`, two instances, a Cryptomatte)."""
    folder = tmp_path_factory.mktemp("run_output")
    shot = write_prompted_shot(folder / "shot", seed=11, num_frames=6, keyframes=[0, 3])
    weights = write_tiny_weights(folder)
    result = subprocess.run([str(COMMAND), "run", str(shot / "plate.####.exr"), "--prompts", str(shot / "prompts.json"),
                             "-o", str(folder / "mattes" / "m.####.exr"), "--weights", str(weights), "--threads", "1",
                             "--no-temporal", "--overlap", "exclusive", "--progress", "none"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    return folder
