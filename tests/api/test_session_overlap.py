"""`VideoSession(overlap=...)`: the session shares overlaps as `run --overlap exclusive` does, bit for bit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from exr_channels import read_channels

from rmpsam_plugin import InputError, VideoSession, load_model
from rmpsam_plugin.prompts import save_prompts

FRAMES = range(1001, 1009)
BOXES = {"left": [10, 5, 120, 90], "right": [40, 10, 155, 92]}  # two instances over the same pixels




def test_exclusive_session_equals_the_exclusive_run(api_shot, tiny_weights, tmp_path):
    model = load_model(tiny_weights)
    with VideoSession.open(api_shot / "plate.####.exr", model=model, overlap="exclusive", temporal=False) as session:
        for name, box in BOXES.items():
            session.set_prompts(1001, name, boxes=[box])
        mattes = dict(session.propagate())
        session.write(tmp_path / "session" / "m.####.exr")
        prompts = tmp_path / "prompts.json"
        save_prompts(session.prompts, prompts)  # the same prompts for the CLI
    command = [str(Path(sys.executable).parent / "rmpsam-matte"), "run", str(api_shot / "plate.####.exr"), "--prompts",
               str(prompts), "-o", str(tmp_path / "cli" / "m.####.exr"), "--weights", str(tiny_weights),
               "--no-temporal", "--overlap", "exclusive", "--progress", "none"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for frame in FRAMES:
        assert float((mattes[frame]["left"] + mattes[frame]["right"]).max()) <= 1.0
        ours, theirs = read_channels(tmp_path / "session" / f"m.{frame}.exr"), read_channels(tmp_path / "cli" / f"m.{frame}.exr")
        for channel in theirs:
            np.testing.assert_array_equal(ours[channel], theirs[channel], err_msg=f"frame {frame} {channel}")


def test_an_unknown_rule_is_an_input_error(api_shot, tiny_weights):
    with pytest.raises(InputError, match="overlap must be one of independent, exclusive") as caught:
        VideoSession.open(api_shot / "plate.####.exr", model=load_model(tiny_weights), overlap="union")
    assert caught.value.exit_code == 3
