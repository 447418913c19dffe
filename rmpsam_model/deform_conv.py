"""Modulated deformable convolution (DCNv2) in plain PyTorch.

The released neck uses mmcv's `ModulatedDeformConv2d`. This is the same arithmetic without a
compiled extension: every kernel tap k of every output pixel samples the input bilinearly at
`(row + offset[2k], col + offset[2k+1])` away from its regular position (values outside the image
count as zero), scales the sample by its modulation weight, and the samples are then contracted
with the weight like an ordinary convolution.

Why this formulation: `grid_sample` does the bilinear sampling for all channels of a tap at once
(one weight computation per position, vectorised over channels), and the contraction is a single
matrix product over (channels x taps), which is where the FLOPs are and where BLAS is fastest. Both
ops export to ONNX (grid_sample from opset 16), and no Python loop runs over pixels.
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
    """Normalised `grid_sample` coordinates (B, K*Ho, Wo, 2) of every tap's sampling point.

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
    offset = offset.view(batch, taps, 2, out_h, out_w)
    rows = out_rows.view(1, 1, out_h, 1) + tap_rows.view(1, taps, 1, 1) + offset[:, :, 0]
    cols = out_cols.view(1, 1, 1, out_w) + tap_cols.view(1, taps, 1, 1) + offset[:, :, 1]
    # grid_sample (align_corners=False) maps pixel index i to (2i + 1) / size - 1.
    grid = torch.stack(((2 * cols + 1) / width - 1, (2 * rows + 1) / height - 1), dim=-1)
    return grid.view(batch, taps * out_h, out_w, 2)


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
    grid = deformable_sampling_grid(offset, (height, width), (kernel_h, kernel_w), stride, padding, dilation)
    samples = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # (B, C, K*Ho, Wo) -> (B, C*K, Ho*Wo): channel-major, tap-minor, the order of weight.view(O, C*K).
    columns = samples.view(batch, channels, taps, out_h * out_w) * modulation.view(batch, 1, taps, out_h * out_w)
    out = torch.matmul(weight.reshape(out_channels, channels * taps), columns.view(batch, channels * taps, -1))
    if bias is not None:
        out = out + bias.view(1, -1, 1)
    return out.view(batch, out_channels, out_h, out_w)


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
