"""Panoptic fusion (Mask2Former's, as the released model uses it) on a hand-worked 4x4 image.

Queries and expected segments, worked out by hand (class 0 is a thing, class 1 stuff, column 2 of
the class logits is "no object"):
- q0: thing, certain (softmax 0.9999), mask = left two columns           -> segment 1, area 8
- q1: stuff, certain, mask = top-right 2x2                                 -> segment 2
- q2: same stuff class, certain, mask = bottom-right 2x2                   -> merged into segment 2 (area 8)
- q3: "no object" wins                                                     -> dropped
- q4: thing, confident (0.95) but under q0's score, mask = left column      -> every pixel it wants is
  owned by q0 (score x probability is higher), claimed/own = 0 < 0.8        -> dropped
- q5: thing at 0.62 < the 0.8 object threshold                             -> dropped
"""

from __future__ import annotations

import pytest
import torch

from rmpsam_model.postprocess import panoptic_result

HIGH, LOW = 10.0, -10.0


def mask(rows: slice, cols: slice) -> torch.Tensor:
    plane = torch.full((4, 4), LOW)
    plane[rows, cols] = HIGH
    return plane


def test_hand_worked_panoptic_segments():
    masks = torch.stack([
        mask(slice(None), slice(0, 2)),
        mask(slice(0, 2), slice(2, 4)),
        mask(slice(2, 4), slice(2, 4)),
        mask(slice(None), slice(None)),
        mask(slice(None), slice(0, 1)),
        mask(slice(0, 2), slice(0, 4)),
    ])
    certain = 10.0
    classes = torch.tensor([
        [certain, 0.0, 0.0],
        [0.0, certain, 0.0],
        [0.0, certain, 0.0],
        [0.0, 0.0, certain],
        [3.6, 0.0, 0.0],   # softmax: e^3.6 / (e^3.6 + 2) = 0.948
        [1.2, 0.0, 0.0],   # e^1.2 / (e^1.2 + 2) = 0.624
    ])
    result = panoptic_result(masks, classes, is_thing=[True, False])
    expected_map = torch.tensor([[1, 1, 2, 2]] * 4)
    assert torch.equal(result.segment_map, expected_map)
    assert [(s["id"], s["label"], s["is_thing"], s["query_index"], s["area"]) for s in result.segments] == [
        (1, 0, True, 0, 8), (2, 1, False, 1, 8)]
    assert result.segments[0]["score"] == pytest.approx(1 / (1 + 2 * torch.exp(torch.tensor(-certain)).item()))


def test_nothing_confident_gives_an_all_void_map():
    result = panoptic_result(torch.zeros(2, 3, 3), torch.tensor([[0.0, 0.0, 5.0], [0.1, 0.0, 0.0]]), [True, False])
    assert result.segments == [] and int(result.segment_map.abs().sum()) == 0


def test_the_predictor_maps_panoptic_results_to_the_image(tmp_path):
    """`predict_panoptic` is the fusion above on the object queries, at the image's own size."""
    import numpy as np
    from shot_fixtures import write_tiny_weights

    from rmpsam_model import load_model
    from rmpsam_model.predictor import RMPSAMPredictor

    loaded = load_model(write_tiny_weights(tmp_path))
    image = np.random.default_rng(3).random((96, 160, 3), dtype=np.float32)
    without_flags = RMPSAMPredictor(loaded.model, loaded.inference_size)
    without_flags.set_image(image)
    with pytest.raises(ValueError, match="thing_flags"):
        without_flags.predict_panoptic()
    predictor = RMPSAMPredictor(loaded.model, loaded.inference_size, thing_flags=[True] * 3 + [False] * 3)
    predictor.set_image(image)
    objects = predictor.predict_objects()
    logits = predictor.geometry().logits_to_original(objects.low_res_logits)
    expected = panoptic_result(logits, objects.class_logits, [True] * 3 + [False] * 3)
    result = predictor.predict_panoptic()
    assert result.segment_map.shape == (96, 160) and torch.equal(result.segment_map, expected.segment_map)
    assert result.segments == expected.segments
