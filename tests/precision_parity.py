"""One held-out 16:9 frame decoded by a float32 network and by the same weights in a reduced
precision: what the parity tests of `int8` and `int8-bf16` compare (`tests/model/`)."""

from __future__ import annotations

import numpy as np

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.evaluation.scoring import HELD_OUT_SEED_BASE
from rmpsam_plugin.images.colour import linear_to_network_rgb
from rmpsam_plugin.synthetic.prompts_from_truth import box_from_matte
from rmpsam_plugin.synthetic.shot import generate_shot

SIZE = InferenceSize(192, 342)  # the weights' own short side, 16:9 (padded to 352): seconds, not minutes


def features_and_box_masks(weights_list, size: InferenceSize = SIZE):
    """[(features, masks)] per weights: the cached neck features of one held-out frame and the
    masks of a box around each of its instances (those over 50 pixels)."""
    shot = generate_shot(HELD_OUT_SEED_BASE + 77, 1, size.short_side, size.max_long_side, 3, shutter=0.0, blur_samples=1)
    image = linear_to_network_rgb(shot.frames[0])
    boxes = np.array([box_from_matte(matte) for matte in shot.mattes[0] if (matte > 0.5).sum() > 50])
    results = []
    for weights in weights_list:
        predictor = RMPSAMPredictor(weights.model, size)
        predictor.set_image(image)
        results.append((predictor._frames[0][0], predictor.predict_prompts(boxes=boxes).masks.numpy()))
    return results


def relative_feature_error_and_mask_ious(reference, other) -> tuple[float, list[float]]:
    """Mean |other - reference| of the features over their mean magnitude, and each mask's IoU."""
    (float_features, float_masks), (other_features, other_masks) = reference, other
    assert float_masks.any(axis=(1, 2)).all()  # real masks, not empty ones that would agree trivially
    error = float((other_features - float_features).abs().mean() / float_features.abs().mean())
    ious = [np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1) for a, b in zip(float_masks, other_masks)]
    return error, ious
