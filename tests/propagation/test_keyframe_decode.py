"""Keyframe decoding semantics (several positives, negative clicks, mask prompts) on the shipped
weights and a held-out synthetic frame, in network pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.shipped import SHIPPED_WEIGHTS, inference_size_from_metadata, load_weights_file, read_metadata
from rmpsam_plugin.evaluation.metrics import region_similarity
from rmpsam_plugin.evaluation.scoring import HELD_OUT_SEED_BASE
from rmpsam_plugin.images.colour import linear_to_network_rgb
from rmpsam_plugin.propagation.keyframe_decode import NetworkPrompts, combine, decode_keyframe
from rmpsam_plugin.synthetic import generate_shot
from rmpsam_plugin.synthetic.prompts_from_truth import box_from_matte, clicks_from_matte

FRAME = 7


@pytest.fixture(scope="module")
def scene():
    """A predictor on the shipped weights with one cached held-out frame, and its true mattes."""
    model, _ = load_weights_file(SHIPPED_WEIGHTS)
    size = inference_size_from_metadata(read_metadata(SHIPPED_WEIGHTS))
    side = size.short_side
    shot = generate_shot(HELD_OUT_SEED_BASE + 60_001, 1, side, side, 3, background_clutter=0)
    predictor = RMPSAMPredictor(model.eval(), size)
    predictor.add_frame(FRAME, linear_to_network_rgb(shot.frames[0]))
    truths = [m > 0.5 for m in shot.mattes[0] if (m > 0.5).sum() > 150]
    assert len(truths) >= 2, "the test frame should show at least two clear objects"
    return predictor, truths


def _prompts(clicks=(), negatives=(), boxes=(), mask=None) -> NetworkPrompts:
    return NetworkPrompts(np.array(clicks, np.float64).reshape(-1, 2), np.array(negatives, np.float64).reshape(-1, 2),
                          np.array(boxes, np.float64).reshape(-1, 4), mask)


def _matte(predictor, state) -> np.ndarray:
    """The instance's matte at the network image size, as the job would upsample it."""
    geometry = predictor.geometry(FRAME)
    return (geometry.logits_to_original(state.logits[None])[0] > 0).numpy()


def test_several_positive_prompts_select_their_union(scene):
    predictor, truths = scene
    first, second = (clicks_from_matte(t.astype(np.float32), 1)[0] for t in truths[:2])
    alone = [decode_keyframe(predictor, FRAME, _prompts(clicks=[c])) for c in (first, second)]
    both = decode_keyframe(predictor, FRAME, _prompts(clicks=[first, second]))
    for single in alone:  # the union never loses what either prompt selected
        assert torch.all(both.logits >= single.logits - 1e-3)
    union_truth = truths[0] | truths[1]
    singles = [region_similarity(_matte(predictor, state), union_truth) for state in alone]
    assert region_similarity(_matte(predictor, both), union_truth) >= max(singles)


def test_a_negative_click_removes_what_it_claims_more_strongly(scene):
    predictor, truths = scene
    overlap = lambda state, other: (_matte(predictor, state) & other).sum()  # noqa: E731
    # A box around two objects whose decode spills onto the second: the case a negative click is for.
    for target, other in ((a, b) for a in truths for b in truths if a is not b):
        box = box_from_matte((target | other).astype(np.float32))
        without = decode_keyframe(predictor, FRAME, _prompts(boxes=[box]))
        if overlap(without, other) > 0:
            break
    else:
        pytest.fail("no box around two objects of the test frame claims any of the second")
    negative = clicks_from_matte(other.astype(np.float32), 1)[0]
    with_negative = decode_keyframe(predictor, FRAME, _prompts(boxes=[box], negatives=[negative]))
    union = with_negative.prompt_logits[with_negative.is_positive].amax(0)
    negative_logits = with_negative.prompt_logits[~with_negative.is_positive].amax(0)
    lost = negative_logits > union  # the negative is surer of these pixels than the box is
    assert bool((lost & (union > 0)).any())
    assert not bool((with_negative.logits[lost] > 0).any())  # background now
    unclaimed = negative_logits <= 0
    torch.testing.assert_close(with_negative.logits[unclaimed], union[unclaimed], rtol=0, atol=0)
    assert torch.all(with_negative.logits <= without.logits + 1e-3)  # batch shapes change float rounding
    assert overlap(with_negative, other) < overlap(without, other)


def test_combine_gives_each_pixel_to_the_surer_decode():
    """Exact values: the instance keeps u where the negative's n <= 0, and u - n where it claims
    the pixel, so it loses a pixel only where n > u; the mask prompt counts as a positive."""
    u = torch.tensor([4.0, 4.0, 4.0, -2.0, 3.0])
    n = torch.tensor([-1.0, 1.0, 6.0, 5.0, 0.0])
    logits = torch.stack([u, n])
    is_positive = torch.tensor([True, False])
    torch.testing.assert_close(combine(logits, is_positive), torch.tensor([4.0, 3.0, -2.0, -7.0, 3.0]), rtol=0, atol=0)
    mask = torch.tensor([8.0, -8.0, 8.0, 8.0, -8.0])
    torch.testing.assert_close(combine(logits, is_positive, mask), torch.tensor([8.0, 3.0, 2.0, 3.0, 3.0]), rtol=0, atol=0)
    # several negatives: the surest of them competes
    logits = torch.stack([u, n, torch.tensor([-5.0, 7.0, 0.0, 0.0, 0.0])])
    torch.testing.assert_close(combine(logits, torch.tensor([True, False, False])),
                               torch.tensor([4.0, -3.0, -2.0, -7.0, 3.0]), rtol=0, atol=0)


def test_a_mask_prompt_is_taken_as_given(scene):
    predictor, truths = scene
    mask = truths[0].astype(np.float32)
    state = decode_keyframe(predictor, FRAME, _prompts(mask=mask))
    assert region_similarity(_matte(predictor, state), truths[0]) > 0.9
    assert state.queries.shape[0] == 1 and bool(state.is_positive.all())  # its box carries it on


def test_an_instance_needs_a_positive_prompt(scene):
    predictor, truths = scene
    with pytest.raises(ValueError, match=f"keyframe {FRAME}"):
        decode_keyframe(predictor, FRAME, _prompts(negatives=[[10.0, 10.0]]))
