"""How well a network segments from one prompt: mean IoU from one box and from one click.

The measure the shipped weights are held to (box >= 0.85, click >= 0.75): held-out synthetic
frames (seeds far from the training stream's), rendered at the weights' own inference size and
converted to the network's input exactly as the job converts plates. For every instance visible
enough to prompt, the box is the instance's tight box loosened outward by up to 10% per edge (as
an artist draws it) and the click is the interior pixel farthest from the boundary (where an
artist clicks); each prompt is decoded alone through the predictor and its matte, thresholded at
0.5, is compared with the true matte. The union of an instance's box and click masks is scored
too: it is what the job makes of a keyframe prompted with both (`keyframe_decode.combine`, the
per-pixel maximum of their logits), the start of every propagated matte.
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
FOUND_IOU = 0.5
"""A prompt mask at least this close (IoU) to the truth has found its instance."""


@dataclass(frozen=True)
class PromptQuality:
    box_iou: float
    click_iou: float
    instances: int
    frames: int
    union_iou: float
    """The box and click masks of each instance united: a keyframe as the job mattes it."""


def prompt_masks(weights: LoadedModel, num_frames: int = 40, image_size: int | None = None, max_objects: int = 5,
                 aspect: float = 1.0):
    """Per held-out frame with instances to prompt: (masks, truths), `masks` (2 * count, H, W)
    bool, the click masks then the box masks, `truths` the count true masks. The same frames and
    prompts on every call (fixed seeds), so two networks can be compared mask for mask. Frames
    are `image_size` high (default the weights' short side) and `aspect` times as wide."""
    size = weights.inference_size
    side = image_size or size.short_side
    predictor = RMPSAMPredictor(weights.model, size)
    rng = np.random.default_rng(0)
    for index in range(num_frames):
        seed = HELD_OUT_SEED_BASE + QUALITY_SEED_OFFSET + index
        shot = generate_shot(seed, 1, side, round(side * aspect), 1 + index % max_objects)
        boxes, clicks, truths = [], [], []
        for matte in shot.mattes[0]:
            if (matte > 0.5).mean() < MIN_AREA_FRACTION:
                continue
            boxes.append(box_from_matte(matte, jitter=0.1, rng=rng))
            clicks.append(clicks_from_matte(matte, 1)[0])
            truths.append(matte > 0.5)
        if not truths:
            continue
        predictor.set_image(linear_to_network_rgb(shot.frames[0]))
        prediction = predictor.predict_prompts(points=np.array(clicks), boxes=np.array(boxes))
        yield prediction.masks.cpu().numpy(), truths  # logits > 0, i.e. matte > 0.5


def measure_prompt_quality(weights: LoadedModel, num_frames: int = 40, image_size: int | None = None,
                           max_objects: int = 5, aspect: float = 1.0) -> PromptQuality:
    scores = {"box": [], "click": [], "union": []}
    for masks, truths in prompt_masks(weights, num_frames, image_size, max_objects, aspect):
        _add_scores(scores, masks, truths)
    return _quality(scores, num_frames)


def _add_scores(scores: dict[str, list[float]], masks: np.ndarray, truths: list[np.ndarray]) -> None:
    """Append each instance's box, click and united IoU (`masks` as `prompt_masks` yields them)."""
    count = len(truths)
    for i, truth in enumerate(truths):
        scores["click"].append(region_similarity(masks[i], truth))
        scores["box"].append(region_similarity(masks[count + i], truth))
        scores["union"].append(region_similarity(masks[i] | masks[count + i], truth))


def _quality(scores: dict[str, list[float]], num_frames: int) -> PromptQuality:
    return PromptQuality(float(np.mean(scores["box"])), float(np.mean(scores["click"])), len(scores["box"]),
                         num_frames, float(np.mean(scores["union"])))


@dataclass(frozen=True)
class PrecisionAgreement:
    """Two precisions of one network on the same prompts: each one's quality, and how alike their masks are."""

    reference: PromptQuality  # float32
    other: PromptQuality  # int8
    mask_iou: float  # mean IoU of the other's mask against the reference's, every box and click prompt
    masks: int
    found_mask_iou: float
    """The same mean over the prompts whose reference mask finds its instance (IoU >= FOUND_IOU with the
    truth). Why apart: nearly all disagreement sits in prompts the reference itself misses, whose
    masks are specks of a few dozen pixels where any change swings the IoU; this says whether int8
    changes the masks a user keeps."""
    found_masks: int


def measure_precision_agreement(reference: LoadedModel, other: LoadedModel, num_frames: int = 40,
                                image_size: int | None = None, max_objects: int = 5,
                                aspect: float = 1.0) -> PrecisionAgreement:
    scores = [{"box": [], "click": [], "union": []} for _ in range(2)]
    agreement, found = [], []
    pairs = zip(prompt_masks(reference, num_frames, image_size, max_objects, aspect),
                prompt_masks(other, num_frames, image_size, max_objects, aspect))
    for (reference_masks, truths), (other_masks, _) in pairs:
        for side, masks in enumerate((reference_masks, other_masks)):
            _add_scores(scores[side], masks, truths)
        for index in range(2 * len(truths)):
            agreement.append(region_similarity(other_masks[index], reference_masks[index]))
            if region_similarity(reference_masks[index], truths[index % len(truths)]) >= FOUND_IOU:
                found.append(agreement[-1])
    return PrecisionAgreement(_quality(scores[0], num_frames), _quality(scores[1], num_frames),
                              float(np.mean(agreement)), len(agreement), float(np.mean(found)) if found else float("nan"),
                              len(found))
