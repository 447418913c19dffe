"""The vectorised modulated deformable conv against a slow, obviously-correct per-pixel reference.

The reference follows mmcv's DCNv2 kernel literally: tap k of output pixel (i, j) samples at
row `i*s - p + ki*d + offset[2k]`, column `j*s - p + kj*d + offset[2k+1]`; a point with row or
column at or beyond -1 / the size reads zero, otherwise each of its four bilinear corners that lies
inside the image contributes. Everything runs in float64 so the comparison can be tight.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rmpsam_model.deform_conv import ModulatedDeformConv2d, modulated_deform_conv2d


def bilinear_or_zero(image: torch.Tensor, row: float, col: float) -> torch.Tensor:
    channels, height, width = image.shape
    value = torch.zeros(channels, dtype=image.dtype)
    if row <= -1 or row >= height or col <= -1 or col >= width:
        return value
    row0, col0 = math.floor(row), math.floor(col)
    for corner_row, corner_col in ((row0, col0), (row0, col0 + 1), (row0 + 1, col0), (row0 + 1, col0 + 1)):
        if 0 <= corner_row < height and 0 <= corner_col < width:
            weight = (1 - abs(row - corner_row)) * (1 - abs(col - corner_col))
            value += weight * image[:, corner_row, corner_col]
    return value


def reference_deform_conv(x, offset, modulation, weight, stride=1, padding=1, dilation=1):
    batch = x.shape[0]
    out_channels, _, kernel_h, kernel_w = weight.shape
    out_h, out_w = offset.shape[-2:]
    out = torch.zeros(batch, out_channels, out_h, out_w, dtype=x.dtype)
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                for ki in range(kernel_h):
                    for kj in range(kernel_w):
                        k = ki * kernel_w + kj
                        row = i * stride - padding + ki * dilation + offset[b, 2 * k, i, j].item()
                        col = j * stride - padding + kj * dilation + offset[b, 2 * k + 1, i, j].item()
                        sample = bilinear_or_zero(x[b], row, col) * modulation[b, k, i, j]
                        out[b, :, i, j] += weight[:, :, ki, kj] @ sample
    return out


def _output_size(size: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - 2 * dilation - 1) // stride + 1


def _random_case(generator, stride=1, padding=1, dilation=1, offset_scale=2.5, height=6, width=7):
    x = torch.randn(2, 3, height, width, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    out_h, out_w = _output_size(height, stride, padding, dilation), _output_size(width, stride, padding, dilation)
    offset = offset_scale * torch.randn(2, 18, out_h, out_w, generator=generator, dtype=torch.float64)
    modulation = torch.rand(2, 9, out_h, out_w, generator=generator, dtype=torch.float64)
    return x, offset, modulation, weight


def test_zero_offsets_and_unit_modulation_equal_plain_conv():
    generator = torch.Generator().manual_seed(0)
    x, offset, modulation, weight = _random_case(generator)
    ours = modulated_deform_conv2d(x, torch.zeros_like(offset), torch.ones_like(modulation), weight)
    assert torch.allclose(ours, F.conv2d(x, weight, padding=1), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation"),
    [(1, 1, 1), (2, 1, 1), (1, 2, 2)],
    ids=["plain", "stride2", "dilation2"],
)
def test_random_offsets_match_reference(stride, padding, dilation):
    generator = torch.Generator().manual_seed(stride * 10 + dilation)
    x, offset, modulation, weight = _random_case(generator, stride, padding, dilation)
    ours = modulated_deform_conv2d(x, offset, modulation, weight, stride=stride, padding=padding, dilation=dilation)
    expected = reference_deform_conv(x, offset, modulation, weight, stride, padding, dilation)
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max().item() < 1e-10


def test_offsets_far_outside_the_image_read_zero():
    generator = torch.Generator().manual_seed(3)
    x, offset, modulation, weight = _random_case(generator)
    far = torch.full_like(offset, -50.0)
    assert modulated_deform_conv2d(x, far, modulation, weight).abs().max().item() == 0.0


def test_offset_layout_row_then_column():
    """A whole-pixel offset of +1 in channel 2k (rows) for every tap equals a plain conv of the
    input shifted up by one row; the same offset in 2k+1 shifts along columns instead. (The first
    output row / column differ: there the deformable taps read real pixels, the shifted conv padding.)"""
    generator = torch.Generator().manual_seed(4)
    x, offset, modulation, weight = _random_case(generator, offset_scale=0.0)
    ones = torch.ones_like(modulation)
    down_one_row = torch.zeros_like(offset)
    down_one_row[:, 0::2] = 1.0
    right_one_col = torch.zeros_like(offset)
    right_one_col[:, 1::2] = 1.0
    shifted_rows = F.pad(x[:, :, 1:], (0, 0, 0, 1))
    shifted_cols = F.pad(x[:, :, :, 1:], (0, 1, 0, 0))
    by_rows = modulated_deform_conv2d(x, down_one_row, ones, weight)
    by_cols = modulated_deform_conv2d(x, right_one_col, ones, weight)
    assert torch.allclose(by_rows[:, :, 1:], F.conv2d(shifted_rows, weight, padding=1)[:, :, 1:], atol=1e-12, rtol=0)
    assert torch.allclose(by_cols[..., 1:], F.conv2d(shifted_cols, weight, padding=1)[..., 1:], atol=1e-12, rtol=0)
    assert not torch.allclose(by_rows, by_cols, atol=1e-3)


def test_module_in_float32_matches_reference():
    generator = torch.Generator().manual_seed(5)
    x, offset, modulation, weight = _random_case(generator)
    layer = ModulatedDeformConv2d(3, 4)
    with torch.no_grad():
        layer.weight.copy_(weight.float())
        ours = layer(x.float(), offset.float(), modulation.float())
    expected = reference_deform_conv(x, offset, modulation, weight)
    assert (ours.double() - expected).abs().max().item() < 1e-5 * expected.abs().max().item()
