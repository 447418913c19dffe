"""Resizing, padding and the way back: prompts and masks must agree on where a pixel is."""

import numpy as np
import torch

from rmpsam_model.preprocess import PIXEL_MEAN, PIXEL_STD, InferenceGeometry, InferenceSize, prepare_image


def test_geometry_keeps_aspect_and_pads_to_multiple_of_32():
    geometry = InferenceGeometry.for_image(1080, 2048, InferenceSize(short_side=576, max_long_side=1024))
    assert geometry.resized_hw == (540, 1024)  # long side limits the scale
    assert geometry.padded_hw == (544, 1024)
    sx, sy = geometry.xy_scale
    assert abs(sx - 0.5) < 1e-6 and abs(sy - 0.5) < 1e-6


def test_prepare_image_normalises_and_zero_pads_after_normalisation():
    image = np.full((60, 100, 3), 0.5, np.float32)
    geometry = InferenceGeometry.for_image(60, 100, InferenceSize(short_side=60, max_long_side=100))
    tensor = prepare_image(image, geometry)
    assert tuple(tensor.shape) == (3, 64, 128)
    expected = (127.5 - np.array(PIXEL_MEAN)) / np.array(PIXEL_STD)
    np.testing.assert_allclose(tensor[:, :60, :100].mean(dim=(1, 2)).numpy(), expected, rtol=1e-5)
    assert torch.count_nonzero(tensor[:, 60:, :]) == 0 and torch.count_nonzero(tensor[:, :, 100:]) == 0


def test_logits_back_to_original_land_where_they_were_drawn():
    height, width = 300, 500
    geometry = InferenceGeometry.for_image(height, width, InferenceSize(short_side=150, max_long_side=250))
    truth = torch.zeros(height, width)
    truth[100:200, 220:400] = 1
    # Simulate a network mask: the truth seen through the resized image at stride 4, as logits.
    resized = torch.nn.functional.interpolate(truth[None, None], size=geometry.resized_hw, mode="area")[0, 0]
    padded = torch.zeros(geometry.padded_hw)
    padded[: geometry.resized_hw[0], : geometry.resized_hw[1]] = resized
    low_res = torch.nn.functional.avg_pool2d(padded[None, None], 4)[0, 0]
    logits = (low_res - 0.5) * 20
    back = geometry.logits_to_original(logits[None])[0] > 0
    iou = (back & (truth > 0)).sum() / (back | (truth > 0)).sum()
    assert iou > 0.95
