"""`rmpsam-matte bench quality` on the tiny random network: one box, one click, and the two
united as the job unites a keyframe's prompts, each scored against the truth on the same 16:9 frames.
(The shipped weights' numbers are in the model card; here only the mechanics.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from rmpsam_model.loading import load_model
from rmpsam_plugin.bench.quality_bench import prompt_masks
from rmpsam_plugin.evaluation.metrics import region_similarity

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def test_box_click_and_their_union_are_scored(tiny_weights):
    result = subprocess.run([str(COMMAND), "bench", "quality", "--frames", "3", "--weights", str(tiny_weights), "--json",
                             "--aspect", "1.78"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = {"box": [], "click": [], "union": []}
    for masks, truths in prompt_masks(load_model(tiny_weights), 3, aspect=1.78):
        count = len(truths)
        assert truths[0].shape[1] == round(1.78 * truths[0].shape[0])  # 16:9 frames, the weights' height
        for i, truth in enumerate(truths):
            expected["click"].append(region_similarity(masks[i], truth))
            expected["box"].append(region_similarity(masks[count + i], truth))
            expected["union"].append(region_similarity(masks[i] | masks[count + i], truth))
    assert report["instances"] == len(expected["box"]) > 0
    assert report["box_iou"] == np.mean(expected["box"]) and report["click_iou"] == np.mean(expected["click"])
    assert report["box_and_click_iou"] == np.mean(expected["union"])
    table = subprocess.run([str(COMMAND), "bench", "quality", "--frames", "3", "--weights", str(tiny_weights),
                            "--aspect", "1.78"], capture_output=True, text=True, timeout=300)
    row = re.search(r"^box and click united \(a keyframe, as the job mattes it\)\s+([\d.]+)\s+-\s+-$", table.stdout,
                    re.MULTILINE)
    assert row and row.group(1) == f"{report['box_and_click_iou']:.3f}", table.stdout


def test_precision_agreement_counts_found_prompts_apart():
    """The agreement split (`found_mask_iou`): computed over exactly the prompts whose reference
    mask has IoU >= FOUND_IOU with the truth. One network against itself agrees everywhere."""
    from rmpsam_model.loading import load_model
    from rmpsam_plugin.bench.quality_bench import FOUND_IOU, measure_precision_agreement, prompt_masks
    from rmpsam_plugin.evaluation.metrics import region_similarity

    weights = load_model(None)
    result = measure_precision_agreement(weights, weights, num_frames=4, aspect=1.78)
    found = sum(region_similarity(masks[i], truths[i % len(truths)]) >= FOUND_IOU
                for masks, truths in prompt_masks(weights, 4, aspect=1.78) for i in range(len(masks)))
    assert result.masks == 2 * result.reference.instances and 0 < found < result.masks
    assert result.found_masks == found and result.mask_iou == result.found_mask_iou == 1.0
