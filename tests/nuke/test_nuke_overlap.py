"""The Nuke node passes `--overlap exclusive` to the real `rmpsam-matte run` through its extra
arguments knob (the node's one place for run options), and the files it loads are exclusive."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nuke
import numpy as np
import OpenImageIO as oiio
import pytest
from nuke_support import SHOT_FRAMES, plate_read, rmpsam_below
from shot_fixtures import FIRST_FRAME, SHOT_HEIGHT, SHOT_WIDTH

from nuke_bridge import actions

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
LAST_FRAME = FIRST_FRAME + SHOT_FRAMES - 1

pytestmark = pytest.mark.slow


def test_extra_arguments_carry_the_overlap_rule(nuke_shot, tiny_weights, tmp_path):
    node = rmpsam_below(plate_read(nuke_shot / "plate.####.exr", FIRST_FRAME, LAST_FRAME, SHOT_WIDTH, SHOT_HEIGHT))
    assert actions.import_prompts(node, str(nuke_shot / "prompts.json")) is not None, nuke.MESSAGES
    node["prompt_file"].setValue("")
    node["output"].setValue(str(tmp_path / "mattes" / "sh.####.exr"))
    node["executable"].setValue(str(EXECUTABLE))
    node["weights"].setValue(str(tiny_weights))
    node["threads"].setValue(1)
    node["extra_args"].setValue("--no-temporal --overlap exclusive")
    run = actions.run_locally(node)
    assert run is not None, nuke.MESSAGES
    assert nuke.run_until(lambda: run.finished.is_set(), timeout=600), "the run did not finish"
    nuke.process_events()
    assert run.result.ok, (run.result.error, run.result.events)
    assert run.command[run.command.index("--overlap") + 1] == "exclusive"
    for frame in range(FIRST_FRAME, LAST_FRAME + 1):
        image = oiio.ImageInput.open(str(tmp_path / "mattes" / f"sh.{frame}.exr"))
        spec = image.spec()
        pixels = image.read_image(oiio.FLOAT).reshape(spec.height, spec.width, spec.nchannels)
        image.close()
        assert json.loads(spec.getattribute("rmpsam/settings"))["overlap"] == "exclusive"
        layers = json.loads(spec.getattribute("rmpsam/layers")).values()
        total = sum(pixels[..., list(spec.channelnames).index(f"{layer}.A")] for layer in layers)
        assert float(np.max(total)) <= 1.0
