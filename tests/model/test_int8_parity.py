"""int8 backbone (ONNX Runtime, `rmpsam_model.int8`) against float32 with the shipped weights, every suite run.

A 16:9 frame at the weights' own short side (342x192, padded to 352) so quantising and both decodes
take seconds; the cache is a tmp folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from rmpsam_model.int8 import CACHE_ENVIRONMENT, Int8Backbone, calibration_digest  # noqa: E402
from rmpsam_model.loading import load_model  # noqa: E402
from rmpsam_model.predictor import RMPSAMPredictor  # noqa: E402
from rmpsam_model.preprocess import InferenceSize  # noqa: E402
from rmpsam_plugin.evaluation.scoring import HELD_OUT_SEED_BASE  # noqa: E402
from rmpsam_plugin.images.colour import linear_to_network_rgb  # noqa: E402
from rmpsam_plugin.job.precision import calibration_images, with_precision  # noqa: E402
from rmpsam_plugin.synthetic.prompts_from_truth import box_from_matte  # noqa: E402
from rmpsam_plugin.synthetic.shot import generate_shot  # noqa: E402

SIZE = InferenceSize(192, 342)
MASK_IOU_MIN = 0.98  # issue 15: prompt masks agree at mean IoU >= 0.98
FEATURE_ERROR_MAX = 0.1  # mean |int8 - float32| of the neck's features, relative to their mean magnitude


def test_int8_masks_match_float32_on_a_held_out_frame(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(tmp_path / "int8"))
    reference, quantised = load_model(None), load_model(None)
    reference.inference_size = quantised.inference_size = SIZE  # calibration frames at the test's size
    with_precision(quantised, "int8")
    assert isinstance(quantised.model.backbone, Int8Backbone)
    calibration = calibration_images(SIZE)
    assert len(calibration) == 8 and {tuple(image.shape) for image in calibration} == {(1, 3, 192, 352)}
    expected = f"{reference.digest}-352x192-{calibration_digest(calibration)}-nhwc.onnx"
    assert [p.name for p in (tmp_path / "int8").iterdir()] == [expected]
    with torch.no_grad():  # the stages come out in the float backbone's layout and shapes, without a copy
        float_stages = reference.model.backbone(calibration[0])
        int8_stages = quantised.model.backbone(calibration[0])
    for float_stage, int8_stage in zip(float_stages, int8_stages, strict=True):
        assert int8_stage.shape == float_stage.shape and int8_stage.is_contiguous(memory_format=torch.channels_last)

    shot = generate_shot(HELD_OUT_SEED_BASE + 77, 1, 192, 342, 3, shutter=0.0, blur_samples=1)
    image = linear_to_network_rgb(shot.frames[0])
    boxes = np.array([box_from_matte(matte) for matte in shot.mattes[0] if (matte > 0.5).sum() > 50])
    predictions = []
    for weights in (reference, quantised):
        predictor = RMPSAMPredictor(weights.model, SIZE)
        predictor.set_image(image)
        predictions.append((predictor._frames[0][0], predictor.predict_prompts(boxes=boxes).masks.numpy()))
    (float_features, float_masks), (int8_features, int8_masks) = predictions
    error = float((int8_features - float_features).abs().mean() / float_features.abs().mean())
    ious = [np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1) for a, b in zip(float_masks, int8_masks)]
    assert len(ious) >= 2 and float_masks.any(axis=(1, 2)).all()
    assert error <= FEATURE_ERROR_MAX and np.mean(ious) >= MASK_IOU_MIN, (error, ious)
    torch.testing.assert_close(int8_features.shape, float_features.shape)
