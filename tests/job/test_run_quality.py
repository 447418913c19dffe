"""The job's quality, end to end through `rmpsam-matte run` with the shipped weights.

Three held-out synthetic shots in each form (plain, with overscan, anamorphic) are matted twice by the real CLI: the
default job (carried queries, blended forward and backward runs, temporal stabilisation, edge
refinement) and the baseline an artist gets without propagation, every frame decoded on its own
from the nearest keyframe's prompts. Averaged over the shots, the default must reach J&F 0.75 on
the frames between keyframes, win by at least 0.05 J&F, and chatter less (lower dtSSD).
"""

from __future__ import annotations

import numpy as np
import pytest
from job_cli import run_cli

from rmpsam_model.shipped import SHIPPED_WEIGHTS
from rmpsam_plugin.evaluation.scoring import FIRST_FRAME, HELD_OUT_SEED_BASE, read_instance_mattes, score, write_evaluation_shot

NUM_FRAMES = 16
KEYFRAMES = [0, NUM_FRAMES - 1]
BASELINE = ("--tracker", "redecode", "--blend", "nearest", "--no-temporal")
JF_FLOOR = 0.75
"""The default job's J&F over these three shots: 0.806 plain and with overscan, 0.818 anamorphic with
the weights shipped in the sixth round of 2026-12-04 (the fourth run, at several sizes; MODEL_CARD.md);
0.819 and 0.831 with the third run's."""

pytestmark = pytest.mark.slow


def _run(shot, output, *extra):
    result = run_cli("run", shot.plate, "--prompts", shot.prompts, "--output", output, "--weights", SHIPPED_WEIGHTS,
                     "--progress", "none", *extra, timeout=900)
    assert result.returncode == 0, result.stderr
    return read_instance_mattes(output, range(FIRST_FRAME, FIRST_FRAME + NUM_FRAMES), shot.names)


SHOT_SEEDS = [HELD_OUT_SEED_BASE + index for index in range(3)]
"""The held-out shots `bench propagation` scores (even seeds: an object leaves and comes back)."""


@pytest.mark.parametrize("variant", [
    pytest.param({}, id="plain"),
    pytest.param({"overscan": 16}, id="overscan"),
    pytest.param({"pixel_aspect": 2.0}, id="anamorphic"),
])
def test_propagation_beats_per_frame_decoding(tmp_path, variant):
    between = [t for t in range(NUM_FRAMES) if t not in KEYFRAMES]
    ours_scores, baseline_scores = [], []
    for seed in SHOT_SEEDS:
        shot = write_evaluation_shot(tmp_path / f"shot{seed}", seed, NUM_FRAMES, 216, 384, KEYFRAMES, **variant)
        truth = shot.truth_on_disk()
        ours = _run(shot, tmp_path / f"ours{seed}" / "m.####.exr")
        baseline = _run(shot, tmp_path / f"baseline{seed}" / "m.####.exr", *BASELINE)
        assert ours.shape == truth.shape
        # The keyframes are the artist's decode in both runs, bit for bit.
        for t in KEYFRAMES:
            np.testing.assert_array_equal(ours[t], baseline[t])
        ours_scores.append(score(ours, truth, between))
        baseline_scores.append(score(baseline, truth, between))

    ours_jf, baseline_jf = (float(np.mean([s.jf for s in scores])) for scores in (ours_scores, baseline_scores))
    ours_dt, baseline_dt = (float(np.mean([s.dtssd for s in scores])) for scores in (ours_scores, baseline_scores))
    print(f"{variant}: ours J&F {ours_jf:.3f} dtSSD {ours_dt:.2f}; per-frame J&F {baseline_jf:.3f} dtSSD {baseline_dt:.2f}")
    assert ours_jf >= JF_FLOOR
    assert ours_jf >= baseline_jf + 0.05
    assert ours_dt < baseline_dt


def test_negative_clicks_on_neighbours_keep_the_instance(tmp_path):
    """One negative click per instance on each keyframe, on a neighbour near it, as an artist
    places one against spill (`negative_clicks_from`). The shipped network's decode of such a
    click spills over the instance too; the job lets the two decodes compete for each pixel
    (`keyframe_decode.combine`), so the click must not cost the instance: the J&F of the frames
    between keyframes stays within 0.02 of the same shots without negative clicks. Measured with
    the shipped weights: 0.830 with them, 0.806 without; the rule before, which removed all a
    negative decode claimed, 0.609 (this test fails on it)."""
    between = [t for t in range(NUM_FRAMES) if t not in KEYFRAMES]
    with_negatives, without = [], []
    for seed in SHOT_SEEDS:
        for count, scores in ((1, with_negatives), (0, without)):
            shot = write_evaluation_shot(tmp_path / f"shot{seed}-{count}", seed, NUM_FRAMES, 216, 384, KEYFRAMES,
                                         negative_clicks=count)
            mattes = _run(shot, tmp_path / f"out{seed}-{count}" / "m.####.exr")
            scores.append(score(mattes, shot.truth_on_disk(), between).jf)
    with_jf, without_jf = float(np.mean(with_negatives)), float(np.mean(without))
    print(f"J&F with one negative click per instance {with_jf:.3f}, without {without_jf:.3f}")
    assert with_jf >= without_jf - 0.02
