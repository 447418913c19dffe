"""int8 backbone (ONNX Runtime, `rmpsam_model.int8`) against float32 with the shipped weights, every suite run.

A 16:9 frame at the weights' own short side (342x192, padded to 352) so quantising and both decodes
take seconds; the cache is a tmp folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from precision_parity import SIZE, features_and_box_masks, relative_feature_error_and_mask_ious  # noqa: E402

from rmpsam_model.int8 import CACHE_ENVIRONMENT, Int8Backbone, calibration_digest  # noqa: E402
from rmpsam_model.loading import load_model  # noqa: E402
from rmpsam_plugin.job.precision import calibration_images, with_precision  # noqa: E402

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

    reference_result, quantised_result = features_and_box_masks([reference, quantised])
    error, ious = relative_feature_error_and_mask_ious(reference_result, quantised_result)
    assert len(ious) >= 2
    assert error <= FEATURE_ERROR_MAX and np.mean(ious) >= MASK_IOU_MIN, (error, ious)
    torch.testing.assert_close(quantised_result[0].shape, reference_result[0].shape)
