"""`rmpsam-matte run --overlap`: two instances prompted over the same pixels, run through the real CLI.

`exclusive` mattes, as stored, sum to at most 1, and the matte picked from the Cryptomatte is each
instance's layer bit for bit; a pixel claimed by one instance alone keeps the `independent` value;
a rerun with the other rule rewrites every frame (the rule is part of the resume key).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from exr_channels import read_channels as read_layers
from job_cli import FIRST_FRAME, run_cli

from rmpsam_plugin import cryptomatte
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.job.run import run_job
from rmpsam_plugin.job.settings import RunSettings

FRAMES = range(FIRST_FRAME, FIRST_FRAME + 8)
NAMES = ("left", "right")




@pytest.fixture(scope="module")
def overlapping(shot_dir, tiny_weights, tmp_path_factory):
    """Both rules run on two instances whose boxes share most of the frame; their output folders."""
    folder = tmp_path_factory.mktemp("overlap")
    boxes = {"left": [10, 5, 120, 90], "right": [40, 10, 155, 92]}
    prompts = {"schema": "rmpsam-prompts", "version": 1, "instances": [
        {"name": name, "keyframes": [{"frame": frame, "boxes": [boxes[name]]} for frame in (1001, 1005)]}
        for name in NAMES]}
    (folder / "prompts.json").write_text(json.dumps(prompts))
    outputs = {}
    for rule in ("independent", "exclusive"):
        outputs[rule] = folder / rule
        result = run_cli("run", shot_dir / "plate.####.exr", "--prompts", folder / "prompts.json",
                         "-o", outputs[rule] / "m.####.exr", "--weights", tiny_weights, "--threads", "1",
                         "--no-temporal", "--overlap", rule, "--progress", "none", timeout=240)
        assert result.returncode == 0, result.stderr
    return folder, outputs


def test_exclusive_mattes_sum_to_one_at_most_and_equal_the_cryptomatte_bit_for_bit(overlapping):
    _, outputs = overlapping
    most_independent = 0.0
    for frame in FRAMES:
        independent = read_layers(outputs["independent"] / f"m.{frame}.exr")
        most_independent = max(most_independent, float((independent["left.A"] + independent["right.A"]).max()))
        path = outputs["exclusive"] / f"m.{frame}.exr"
        exclusive = read_layers(path)
        assert float((exclusive["left.A"] + exclusive["right.A"]).max()) <= 1.0
        for name in NAMES:
            picked = cryptomatte.extract_matte(path, "CryptoObject", [name])
            np.testing.assert_array_equal(picked.view(np.uint32), exclusive[f"{name}.A"].view(np.uint32),
                                          err_msg=f"frame {frame} {name}")
    assert most_independent > 1.9  # the shot really has pixels both instances claim at full strength


def test_a_pixel_claimed_by_one_instance_keeps_its_matte_and_shares_follow_the_evidence(overlapping):
    _, outputs = overlapping
    shared_pixels = 0
    for frame in FRAMES:
        independent = read_layers(outputs["independent"] / f"m.{frame}.exr")
        exclusive = read_layers(outputs["exclusive"] / f"m.{frame}.exr")
        left, right = independent["left.A"], independent["right.A"]
        claims = (left >= cryptomatte.COVERAGE_FLOOR).astype(int) + (right >= cryptomatte.COVERAGE_FLOOR)
        for name in NAMES:
            alone = (claims == 1) & (independent[f"{name}.A"] >= cryptomatte.COVERAGE_FLOOR)
            np.testing.assert_array_equal(exclusive[f"{name}.A"][alone], independent[f"{name}.A"][alone])
        shared = claims == 2
        shared_pixels += int(shared.sum())
        stronger = shared & (left > right + 0.01)  # the stronger claim keeps the larger share
        assert (exclusive["left.A"][stronger] >= exclusive["right.A"][stronger]).all()
        assert (exclusive["left.A"][shared] <= left[shared] + 1e-3).all()  # sharing never adds coverage
    assert shared_pixels > 1000


def test_the_rule_is_part_of_the_resume_key(overlapping, shot_dir, tiny_weights):
    folder, outputs = overlapping
    assert RunSettings("p", None, "o", overlap="independent").result_key() != \
        RunSettings("p", None, "o", overlap="exclusive").result_key()
    # rerunning the other rule over written frames rewrites them all, to the other rule's mattes
    result = run_cli("run", shot_dir / "plate.####.exr", "--prompts", folder / "prompts.json",
                     "-o", outputs["independent"] / "m.####.exr", "--weights", tiny_weights, "--threads", "1",
                     "--no-temporal", "--overlap", "exclusive", "--progress", "json", timeout=240)
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["event"] == "done" and done["written"] == 8, done
    for frame in FRAMES:
        rerun = read_layers(outputs["independent"] / f"m.{frame}.exr")
        exclusive = read_layers(outputs["exclusive"] / f"m.{frame}.exr")
        for name in NAMES:
            np.testing.assert_array_equal(rerun[f"{name}.A"], exclusive[f"{name}.A"])


def test_an_unknown_rule_is_refused(shot_dir, tiny_weights, tmp_path):
    result = run_cli("run", shot_dir / "plate.####.exr", "--prompts", shot_dir / "prompts.json", "-o",
                     tmp_path / "m.####.exr", "--weights", tiny_weights, "--overlap", "union")
    assert result.returncode == 2 and "'union' is not one of 'independent', 'exclusive'" in result.stderr
    assert not list(tmp_path.glob("*.exr"))
    with pytest.raises(InputError, match="overlap must be one of independent, exclusive, not 'union'") as caught:
        run_job(plate=str(shot_dir / "plate.####.exr"), prompts=shot_dir / "prompts.json",
                output=str(tmp_path / "m.####.exr"), overlap="union", dry_run=True)
    assert caught.value.exit_code == 3
