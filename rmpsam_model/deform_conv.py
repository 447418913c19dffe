"""Modulated deformable convolution (DCNv2) in plain PyTorch.

The released neck uses mmcv's `ModulatedDeformConv2d`. This is the same arithmetic without a
compiled extension: tap k of every output pixel samples the input bilinearly at
`(row + offset[2k], col + offset[2k+1])` away from its regular position (values outside the image
count as zero), scales the sample by its modulation weight, and the samples are contracted with
the weight like an ordinary convolution.

Why this formulation ("transform, then sample"): bilinear sampling is linear and shared by all
channels, so it commutes with the channel contraction. Instead of sampling the C input channels
for each of the 9 taps and contracting (C*9) columns, we first apply each tap's weight slice to
every input pixel (one (9*O, C) x (C, H*W) matrix product, exactly the convolution's FLOPs) and
then sample the O-channel result of each tap at that tap's points with `grid_sample`, weight by the
modulation and sum over taps. The neck's deformable convs halve the channels (O = C/2), so this
samples half as many values as the column formulation and never builds a (C*9, H*W) column
tensor. A value outside the image is zero either way, since the transformed map is zero there too.
Both ops export to ONNX (grid_sample from opset 16) and no Python loop runs over pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def deformable_sampling_grid(
    offset: torch.Tensor,
    input_hw: tuple[int, int],
    kernel_size: tuple[int, int],
    stride: int,
    padding: int,
    dilation: int,
) -> torch.Tensor:
    """Normalised `grid_sample` coordinates (B, K, Ho, Wo, 2) of every tap's sampling point.

    `offset` is (B, 2K, Ho, Wo) in mmcv's layout: channel 2k is tap k's row (y) offset and
    2k+1 its column (x) offset, taps in row-major order over the kernel window.
    """
    batch, _, out_h, out_w = offset.shape
    height, width = input_hw
    kernel_h, kernel_w = kernel_size
    taps = kernel_h * kernel_w
    device, dtype = offset.device, offset.dtype
    tap_rows = (torch.arange(kernel_h, device=device, dtype=dtype) * dilation).repeat_interleave(kernel_w)
    tap_cols = (torch.arange(kernel_w, device=device, dtype=dtype) * dilation).repeat(kernel_h)
    out_rows = torch.arange(out_h, device=device, dtype=dtype) * stride - padding
    out_cols = torch.arange(out_w, device=device, dtype=dtype) * stride - padding
    offset = offset.reshape(batch, taps, 2, out_h, out_w)
    rows = out_rows.view(1, 1, out_h, 1) + tap_rows.view(1, taps, 1, 1) + offset[:, :, 0]
    cols = out_cols.view(1, 1, 1, out_w) + tap_cols.view(1, taps, 1, 1) + offset[:, :, 1]
    # grid_sample (align_corners=False) maps pixel index i to (2i + 1) / size - 1.
    return torch.stack(((2 * cols + 1) / width - 1, (2 * rows + 1) / height - 1), dim=-1)


def modulated_deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    modulation: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 1,
    dilation: int = 1,
) -> torch.Tensor:
    """DCNv2 forward: x (B, C, H, W), offset (B, 2K, Ho, Wo), modulation (B, K, Ho, Wo) in [0, 1],
    weight (O, C, kh, kw) -> (B, O, Ho, Wo). One deformable group, one conv group."""
    batch, channels, height, width = x.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    taps = kernel_h * kernel_w
    out_h, out_w = offset.shape[-2:]
    # (K*O, C): row t*O + o holds weight[o, :, tap t]; the product gives each tap's map of every pixel.
    # It runs in the weight's type (bfloat16 weights: `rmpsam_model.bfloat16`), the sampling in x's.
    tap_weights = weight.permute(2, 3, 0, 1).reshape(taps * out_channels, channels)
    per_tap = torch.matmul(tap_weights, x.flatten(2).to(weight.dtype)).to(x.dtype)
    per_tap = per_tap.view(batch * taps, out_channels, height, width)
    grid = deformable_sampling_grid(offset, (height, width), (kernel_h, kernel_w), stride, padding, dilation)
    samples = F.grid_sample(
        per_tap, grid.view(batch * taps, out_h, out_w, 2), mode="bilinear", padding_mode="zeros", align_corners=False
    ).view(batch, taps, out_channels, out_h, out_w)
    modulation = modulation.unsqueeze(2)
    out = samples[:, 0] * modulation[:, 0]
    for tap in range(1, taps):  # a loop over the 9 taps only; in-place accumulation keeps memory flat
        out.addcmul_(samples[:, tap], modulation[:, tap])
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


class ModulatedDeformConv2d(nn.Module):
    """A deformable conv layer holding only the weight (and a bias once BatchNorm is folded in);
    offsets and modulation come from the caller, as in mmcv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.register_parameter("bias", None)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, offset: torch.Tensor, modulation: torch.Tensor) -> torch.Tensor:
        return modulated_deform_conv2d(x, offset, modulation, self.weight, self.bias, padding=self.padding)
