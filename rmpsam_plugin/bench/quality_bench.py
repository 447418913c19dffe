"""How well a network segments from one prompt: mean IoU from one box and from one click.

The measure the shipped weights are held to (box >= 0.85, click >= 0.75): held-out synthetic
frames (seeds far from the training stream's), rendered at the weights' own inference size and
converted to the network's input exactly as the job converts plates. For every instance visible
enough to prompt, the box is the instance's tight box loosened outward by up to 10% per edge (as
an artist draws it) and the click is the interior pixel farthest from the boundary (where an
artist clicks); each prompt is decoded alone through the predictor and its matte, thresholded at
0.5, is compared with the true matte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmpsam_model.loading import LoadedModel
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_plugin.evaluation.metrics import region_similarity
from rmpsam_plugin.evaluation.scoring import HELD_OUT_SEED_BASE
from rmpsam_plugin.images.colour import linear_to_network_rgb
from rmpsam_plugin.synthetic import generate_shot
from rmpsam_plugin.synthetic.prompts_from_truth import box_from_matte, clicks_from_matte

QUALITY_SEED_OFFSET = 50_000
"""Quality frames use seeds HELD_OUT_SEED_BASE + this + i, apart from the propagation shots'."""
MIN_AREA_FRACTION = 0.002
"""Instances covering less of the frame than this are not prompted (too small to click)."""


@dataclass(frozen=True)
class PromptQuality:
    box_iou: float
    click_iou: float
    instances: int
    frames: int


def measure_prompt_quality(weights: LoadedModel, num_frames: int = 40, image_size: int | None = None,
                           max_objects: int = 5) -> PromptQuality:
    size = weights.inference_size
    side = image_size or size.short_side
    predictor = RMPSAMPredictor(weights.model, size)
    rng = np.random.default_rng(0)
    box_ious, click_ious = [], []
    for index in range(num_frames):
        seed = HELD_OUT_SEED_BASE + QUALITY_SEED_OFFSET + index
        shot = generate_shot(seed, 1, side, side, 1 + index % max_objects)
        predictor.set_image(linear_to_network_rgb(shot.frames[0]))
        boxes, clicks, truths = [], [], []
        for matte in shot.mattes[0]:
            if (matte > 0.5).mean() < MIN_AREA_FRACTION:
                continue
            boxes.append(box_from_matte(matte, jitter=0.1, rng=rng))
            clicks.append(clicks_from_matte(matte, 1)[0])
            truths.append(matte > 0.5)
        if not truths:
            continue
        prediction = predictor.predict_prompts(points=np.array(clicks), boxes=np.array(boxes))
        mattes = prediction.masks.cpu().numpy()  # logits > 0, i.e. matte > 0.5
        count = len(truths)
        click_ious += [region_similarity(mattes[i], truths[i]) for i in range(count)]
        box_ious += [region_similarity(mattes[count + i], truths[i]) for i in range(count)]
    return PromptQuality(float(np.mean(box_ious)), float(np.mean(click_ious)), len(box_ious), num_frames)
