"""A 12-frame shot keyframed on 1001, 1005 and 1009 (three segments), the tiny random network, and
one whole-shot `rmpsam-matte run` that every farm job's frames must equal bit for bit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from shot_fixtures import write_prompted_shot, write_tiny_weights

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
FRAMES = range(1001, 1013)
SEGMENTS = [[1001, 1004], [1005, 1008], [1009, 1012]]
RUN_OPTIONS = ["--threads", "1"]
RUN_ARGS = "--no-temporal"  # through --run-args, as a wrangler passes any other run option


def rmpsam(*args, timeout: float = 240, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXECUTABLE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def shot_args(shot: Path, weights: Path, output: Path) -> list[str]:
    return [shot / "plate.####.exr", "--prompts", shot / "prompts.json", "-o", output / "m.####.exr",
            "--weights", weights, *RUN_OPTIONS, "--run-args", RUN_ARGS, "--executable", EXECUTABLE]


@pytest.fixture(scope="session")
def farm_weights(tmp_path_factory) -> Path:
    return write_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def farm_shot(tmp_path_factory) -> Path:
    return write_prompted_shot(tmp_path_factory.mktemp("shot"), seed=11, num_frames=12, keyframes=[0, 4, 8])


@pytest.fixture(scope="session")
def whole_run(farm_shot, farm_weights, tmp_path_factory) -> Path:
    """The mattes of one `rmpsam-matte run` of the whole shot (the folder holding m.####.exr)."""
    output = tmp_path_factory.mktemp("whole")
    result = rmpsam("run", farm_shot / "plate.####.exr", "--prompts", farm_shot / "prompts.json",
                    "-o", output / "m.####.exr", "--weights", farm_weights, *RUN_OPTIONS, RUN_ARGS, "--progress", "none")
    assert result.returncode == 0, result.stderr
    return output
