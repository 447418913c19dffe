"""The job's quality, end to end through `rmpsam-matte run` with the shipped weights.

Held-out synthetic shots (plain, with overscan, anamorphic) are matted twice by the real CLI: the
default job (carried queries, blended forward and backward runs, temporal stabilisation, edge
refinement) and the baseline an artist gets without propagation, every frame decoded on its own
from the nearest keyframe's prompts. The default must win by at least 0.05 J&F on the frames
between keyframes, and chatter less (lower dtSSD).
"""

from __future__ import annotations

import numpy as np
import pytest

from rmpsam_model.shipped import SHIPPED_WEIGHTS
from rmpsam_plugin.evaluation import FIRST_FRAME, HELD_OUT_SEED_BASE, read_instance_mattes, score, write_evaluation_shot

from job_cli import run_cli

NUM_FRAMES = 16
KEYFRAMES = [0, NUM_FRAMES - 1]
BASELINE = ("--tracker", "redecode", "--blend", "nearest", "--no-temporal")

pytestmark = pytest.mark.slow


def _run(shot, output, *extra):
    result = run_cli("run", shot.plate, "--prompts", shot.prompts, "--output", output, "--weights", SHIPPED_WEIGHTS,
                     "--progress", "none", *extra, timeout=900)
    assert result.returncode == 0, result.stderr
    return read_instance_mattes(output, range(FIRST_FRAME, FIRST_FRAME + NUM_FRAMES), shot.names)


@pytest.mark.parametrize("variant", [
    pytest.param({}, id="plain"),
    pytest.param({"overscan": 16}, id="overscan"),
    pytest.param({"pixel_aspect": 2.0}, id="anamorphic"),
])
def test_propagation_beats_per_frame_decoding(tmp_path, variant):
    shot = write_evaluation_shot(tmp_path / "shot", HELD_OUT_SEED_BASE + 10, NUM_FRAMES, 216, 384, KEYFRAMES,
                                 **variant)
    truth = shot.truth_on_disk()
    ours = _run(shot, tmp_path / "ours" / "m.####.exr")
    baseline = _run(shot, tmp_path / "baseline" / "m.####.exr", *BASELINE)
    assert ours.shape == truth.shape

    between = [t for t in range(NUM_FRAMES) if t not in KEYFRAMES]
    ours_score, baseline_score = score(ours, truth, between), score(baseline, truth, between)
    print(f"{variant}: ours J&F {ours_score.jf:.3f} dtSSD {ours_score.dtssd:.2f}; "
          f"per-frame J&F {baseline_score.jf:.3f} dtSSD {baseline_score.dtssd:.2f}")
    assert ours_score.jf >= baseline_score.jf + 0.05
    assert ours_score.dtssd < baseline_score.dtssd
    # The keyframes are the artist's decode in both runs (temporal smoothing never moves them).
    for t in KEYFRAMES:
        np.testing.assert_array_equal(ours[t], baseline[t])
