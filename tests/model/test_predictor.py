"""The predictor answers in original-image pixels and computes what the released model does.

The fixture image is rebuilt from the reference's normalised input, so the predictor's own
resize/normalise/pad path must land on exactly the reference tensor; the prompts are given as the
artist would (click centres and boxes in image pixels) and must reproduce the reference decode.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from rmpsam_model.checkpoint import load_class_embedding, load_state_dict
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import PIXEL_MEAN, PIXEL_STD, InferenceSize

TOLERANCE = 1e-3


def _close(ours: torch.Tensor, ref: torch.Tensor) -> bool:
    return float((ours - ref).abs().max()) <= TOLERANCE * float(ref.abs().max())


def _image_from_normalised(normalised: torch.Tensor) -> np.ndarray:
    """(3, H, W) network input -> the float (H, W, 3) picture the predictor is handed (not clipped
    to 0..1: the predictor does not clip either, so the round trip is exact)."""
    rgb = normalised * torch.tensor(PIXEL_STD).view(3, 1, 1) + torch.tensor(PIXEL_MEAN).view(3, 1, 1)
    return (rgb.permute(1, 2, 0).numpy() / 255.0).astype(np.float32)


@pytest.fixture(scope="module")
def reference_model(official_fixtures):
    reference = load_file(official_fixtures / "parity_tiny_reference.safetensors")
    with safe_open(official_fixtures / "parity_tiny_reference.safetensors", "pt") as handle:
        img_shape = tuple(json.loads(handle.metadata()["meta"])["img_shape"])
    model = RMPSAM(RMPSAMConfig.parity_tiny())
    model.load_state_dict(load_state_dict(official_fixtures / "parity_tiny.pth"))
    model.set_class_embedding(load_class_embedding(official_fixtures / "parity_tiny_class_embed.pth"))
    return model, reference, img_shape


@pytest.fixture(scope="module")
def setup(reference_model):
    model, reference, (height, width) = reference_model
    image = _image_from_normalised(reference["image.input"][0, :, :height, :width])
    predictor = RMPSAMPredictor(model, InferenceSize(short_side=min(height, width), max_long_side=max(height, width)))
    predictor.set_image(image)
    return predictor, reference, (height, width)


def test_cached_features_equal_reference(setup):
    predictor, reference, _ = setup
    assert _close(predictor.features(0), reference["image.features"])


def test_clicks_and_boxes_in_image_pixels_reproduce_reference_prompt_decode(setup):
    predictor, reference, (height, width) = setup
    boxes = reference["prompt.boxes_xyxy"].numpy()
    clicks = (boxes[:3, :2] + boxes[:3, 2:]) / 2  # rows 0-2 are clicks written as 6-pixel boxes
    prediction = predictor.predict_prompts(points=clicks, boxes=boxes[3:])
    assert _close(prediction.low_res_logits, reference["prompt.stage3.masks"][0])
    assert _close(prediction.iou, reference["prompt.stage3.iou"][0, :, 0])
    assert _close(prediction.kernels, reference["prompt.kernels"][0])
    assert tuple(prediction.logits.shape) == (6, height, width)


def test_object_decode_reproduces_reference(setup):
    predictor, reference, _ = setup
    objects = predictor.predict_objects()
    assert _close(objects.low_res_logits, reference["image.stage3.masks"][0])
    assert _close(objects.class_logits, reference["image.stage3.cls"][0])
    assert _close(objects.kernels, reference["image.kernels"][0])


def test_clip_decode_reproduces_reference(reference_model):
    """The reference clip is three full-size 128x160 frames (no padding) decoded as one tube; the
    predictor gets them as pictures and must decode the same tube, frame axis in the same order."""
    model, reference, _ = reference_model
    frames = [_image_from_normalised(frame) for frame in reference["video.input"]]
    predictor = RMPSAMPredictor(model, InferenceSize(short_side=128, max_long_side=160))
    predictor.set_images(frames)
    clip = predictor.predict_clip()
    assert tuple(clip.low_res_logits.shape) == (100, 3, 32, 40)
    assert _close(clip.low_res_logits, reference["video.stage3.masks"][0])
    assert _close(clip.class_logits, reference["video.stage3.cls"][0])
    assert _close(clip.kernels, reference["video.kernels"][0])
    # Frames given in another order come back in that order (the tube itself does not depend on it).
    reversed_clip = predictor.predict_clip([2, 1, 0])
    assert _close(reversed_clip.low_res_logits.flip(1), clip.low_res_logits)
    assert not _close(reversed_clip.low_res_logits, clip.low_res_logits)


def test_instances_are_ranked_and_masks_at_original_size(setup):
    predictor, _, (height, width) = setup
    result = predictor.predict_instances(top_k=10)
    assert tuple(result.masks.shape) == (10, height, width)
    assert torch.all(result.scores[:-1] >= result.scores[1:])
    assert int(result.labels.max()) < 155


def test_errors_name_the_problem(setup):
    predictor, _, _ = setup
    with pytest.raises(ValueError, match="at least one click or box"):
        predictor.predict_prompts()
    with pytest.raises(KeyError, match="frame 3 is not cached"):
        predictor.predict_prompts(points=[[5, 5]], frame_index=3)


def test_panoptic_segments_do_not_overlap_and_respect_stuff_merging():
    from rmpsam_model.postprocess import panoptic_result

    logits = torch.full((3, 8, 8), -10.0)
    logits[0, :, :4] = 10.0  # thing, left half
    logits[1, :, 4:] = 10.0  # stuff class 1, right half
    logits[2, :, 6:] = 10.0  # a weaker duplicate of stuff class 1: covered by query 1, dropped
    class_logits = torch.tensor([[10.0, -10.0, 0.0], [-10.0, 10.0, 0.0], [-10.0, 9.0, 0.0]])
    result = panoptic_result(logits, class_logits, is_thing=[True, False])
    labels = {segment["id"]: segment["label"] for segment in result.segments}
    assert sorted(labels.values()) == [0, 1]
    assert int((result.segment_map == 0).sum()) == 0
    stuff_id = next(i for i, label in labels.items() if label == 1)
    assert int((result.segment_map == stuff_id).sum()) == 32


def test_queries_carry_to_other_frames_and_seeds_steer_the_first_pooling(setup):
    predictor, reference, (height, width) = setup
    image = np.random.default_rng(1).random((height, width, 3), dtype=np.float32)
    predictor.add_frame(1001, image)
    boxes = reference["prompt.boxes_xyxy"].numpy()[3:]
    queries = predictor.encode_prompts(boxes=boxes, frame_index=0)
    on_keyframe = predictor.decode_queries(queries, 0)
    assert torch.equal(on_keyframe.low_res_logits, predictor.predict_prompts(boxes=boxes).low_res_logits)
    unseeded = predictor.decode_queries(queries, 1001)
    seeded = predictor.decode_queries(queries, 1001, seed_logits=on_keyframe.low_res_logits)
    assert tuple(seeded.low_res_logits.shape) == tuple(unseeded.low_res_logits.shape)
    assert float((seeded.low_res_logits - unseeded.low_res_logits).abs().max()) > 1e-3


def test_frame_cache_forgets_least_recently_used():
    model = RMPSAM(RMPSAMConfig.parity_tiny())
    predictor = RMPSAMPredictor(model, InferenceSize(short_side=64, max_long_side=64), max_cached_frames=2)
    frames = np.random.default_rng(2).random((3, 64, 64, 3), dtype=np.float32)
    predictor.add_frame(1, frames[0])
    predictor.add_frame(2, frames[1])
    predictor.features(1)  # touch 1: frame 2 is now the least recently used
    predictor.add_frame(3, frames[2])
    assert predictor.has_frame(1) and predictor.has_frame(3) and not predictor.has_frame(2)


def test_repeated_clicks_reuse_the_frames_pixel_keys_and_a_replaced_frame_does_not():
    """The prompt adapter's per-frame keys are cached: answers stay those of a fresh predictor,
    and replacing a frame's image under the same key recomputes them."""
    torch.manual_seed(0)
    model = RMPSAM(RMPSAMConfig.parity_tiny()).eval()
    size = InferenceSize(short_side=64, max_long_side=64)
    frames = np.random.default_rng(3).random((2, 64, 64, 3), dtype=np.float32)
    predictor = RMPSAMPredictor(model, size)
    predictor.add_frame("a", frames[0])
    first = predictor.predict_prompts(points=[[20.0, 30.0]], frame_index="a").low_res_logits
    again = predictor.predict_prompts(points=[[20.0, 30.0]], frame_index="a").low_res_logits
    torch.testing.assert_close(again, first, rtol=0, atol=0)

    predictor.add_frame("a", frames[1])  # same key, new picture
    replaced = predictor.predict_prompts(points=[[20.0, 30.0]], frame_index="a").low_res_logits
    fresh = RMPSAMPredictor(model, size)
    fresh.add_frame("a", frames[1])
    torch.testing.assert_close(replaced, fresh.predict_prompts(points=[[20.0, 30.0]], frame_index="a").low_res_logits)
    assert not torch.equal(replaced, first)


def test_decoding_across_frames_joins_each_frames_kept_pixel_keys():
    """The clip tracker's stacked decode takes each frame's cached adapter keys, joined: the same
    answer as projecting the stacked features afresh (as the released video mode computes it)."""
    torch.manual_seed(0)
    model = RMPSAM(RMPSAMConfig.parity_tiny()).eval()
    predictor = RMPSAMPredictor(model, InferenceSize(short_side=64, max_long_side=64))
    for key, frame in zip("kf", np.random.default_rng(4).random((2, 64, 64, 3), dtype=np.float32)):
        predictor.add_frame(key, frame)
    queries = predictor.encode_prompts(points=np.array([[20.0, 30.0]]), frame_index="k")
    across = predictor.decode_queries_across(queries, ["k", "f"])
    assert set(predictor._decode_inputs) == {"k", "f"}
    stacked = torch.cat([predictor.features("k"), predictor.features("f")], dim=2)
    with torch.inference_mode():
        output = model.panoptic_head.adapt_prompts(stacked, model.decode_from_kernels(stacked, queries[None]))
    torch.testing.assert_close(across.low_res_logits, output.masks[0].float().unflatten(1, (2, 16)))
    again = predictor.decode_queries_across(queries, ["k", "f"])  # from the kept keys
    torch.testing.assert_close(again.low_res_logits, across.low_res_logits, rtol=0, atol=0)


def test_frame_cache_keeps_within_a_byte_budget():
    model = RMPSAM(RMPSAMConfig.parity_tiny())
    size = InferenceSize(short_side=64, max_long_side=64)
    frames = np.random.default_rng(3).random((4, 64, 64, 3), dtype=np.float32)
    probe = RMPSAMPredictor(model, size)
    probe.add_frame(0, frames[0])
    one_frame = probe.cached_feature_bytes
    assert one_frame == probe.features(0).element_size() * probe.features(0).nelement() > 0

    predictor = RMPSAMPredictor(model, size, max_cached_frames=100, max_cached_bytes=2 * one_frame + one_frame // 2)
    for key, image in enumerate(frames):
        predictor.add_frame(key, image)
        assert predictor.cached_feature_bytes <= 2 * one_frame + one_frame // 2
    assert [predictor.has_frame(key) for key in range(4)] == [False, False, True, True]
    tiny = RMPSAMPredictor(model, size, max_cached_bytes=1)  # smaller than one frame: the newest is kept anyway
    tiny.add_frame(7, frames[0])
    assert tiny.has_frame(7) and tiny.num_frames == 1
