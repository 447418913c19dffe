"""The neck: backbone stages C2..C5 -> one stride-4, 256-channel mask feature map F.

A top-down path of deformable "deform layers" (each doubles the resolution) with lateral 1x1
convs, then a cross-scale aggregation of the four top-down maps at a narrow width, then two
coordinate channels and a 1x1 projection to the decoder width (docs/network.md, Neck). Module
names follow the released `neck.*` keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rmpsam_model.bn_fold import fold_batch_norm_into_conv
from rmpsam_model.deform_conv import ModulatedDeformConv2d

KERNEL_TAPS = 9  # 3x3 deformable kernel: 18 offset channels, then 9 modulation channels


class DeformLayer(nn.Module):
    """Modulated deformable 3x3 conv + BN + ReLU, then a 2x transposed conv + BN + ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.dcn_offset = nn.Conv2d(in_channels, 3 * KERNEL_TAPS, 3, padding=1)
        self.dcn = ModulatedDeformConv2d(in_channels, out_channels, 3, padding=1)
        self.dcn_bn = nn.BatchNorm2d(out_channels)
        self.up_sample = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.up_bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset_and_modulation = self.dcn_offset(x)
        offset = offset_and_modulation[:, : 2 * KERNEL_TAPS]
        modulation = offset_and_modulation[:, 2 * KERNEL_TAPS :].sigmoid()
        x = self.relu(self.dcn_bn(self.dcn(x, offset, modulation)))
        return self.relu(self.up_bn(self.up_sample(x)))

    def fuse_for_inference(self) -> None:
        self.dcn, self.dcn_bn = fold_batch_norm_into_conv(self.dcn, self.dcn_bn)
        self.up_sample, self.up_bn = fold_batch_norm_into_conv(self.up_sample, self.up_bn)


class DeformableFPN(nn.Module):
    """Top-down deformable path and cross-scale aggregation (the released `neck.deconv`)."""

    def __init__(self, stage_channels: tuple[int, int, int, int], aggregation_width: int) -> None:
        super().__init__()
        c2, c3, c4, c5 = stage_channels
        self.lateral_conv0 = nn.Conv2d(c5, c5 // 2, 1)
        self.deform_conv1 = DeformLayer(c5 // 2, c4 // 2)
        self.lateral_conv1 = nn.Conv2d(c4, c4 // 2, 1)
        self.deform_conv2 = DeformLayer(c4 // 2, c3 // 2)
        self.lateral_conv2 = nn.Conv2d(c3, c3 // 2, 1)
        self.deform_conv3 = DeformLayer(c3 // 2, c2 // 2)
        self.lateral_conv3 = nn.Conv2d(c2, c2 // 2, 1)
        self.output_conv = nn.Conv2d(aggregation_width, aggregation_width, 3, padding=1)
        self.bias = nn.Parameter(torch.zeros(1, aggregation_width, 1, 1))
        self.conv_a5 = nn.Conv2d(c5 // 2, aggregation_width, 1, bias=False)
        self.conv_a4 = nn.Conv2d(c4 // 2, aggregation_width, 1, bias=False)
        self.conv_a3 = nn.Conv2d(c3 // 2, aggregation_width, 1, bias=False)
        self.conv_a2 = nn.Conv2d(c2 // 2, aggregation_width, 1, bias=False)

    def forward(self, stages: list[torch.Tensor]) -> torch.Tensor:
        c2, c3, c4, c5 = stages
        p5 = self.lateral_conv0(c5)
        x4 = self.lateral_conv1(c4) + self.deform_conv1(p5)
        x3 = self.lateral_conv2(c3) + self.deform_conv2(x4)
        x2 = self.lateral_conv3(c2) + self.deform_conv3(x3)
        # Project to the aggregation width before upsampling (1x1 conv and bilinear resizing commute),
        # and accumulate in place: these maps are the largest tensors of the neck.
        aggregated = self.conv_a2(x2) + self.bias
        for conv, x, factor in ((self.conv_a3, x3, 2), (self.conv_a4, x4, 4), (self.conv_a5, p5, 8)):
            aggregated += F.interpolate(conv(x), scale_factor=factor, mode="bilinear", align_corners=False)
        return self.output_conv(aggregated)

    def fuse_for_inference(self) -> None:
        for layer in (self.deform_conv1, self.deform_conv2, self.deform_conv3):
            layer.fuse_for_inference()


class Neck(nn.Module):
    """`deconv` (the deformable FPN) then `loc_conv` over the map with x, y coordinates appended."""

    def __init__(self, stage_channels: tuple[int, int, int, int], aggregation_width: int, out_channels: int) -> None:
        super().__init__()
        self.deconv = DeformableFPN(stage_channels, aggregation_width)
        self.loc_conv = nn.Conv2d(aggregation_width + 2, out_channels, 1)

    def forward(self, stages: list[torch.Tensor]) -> torch.Tensor:
        """[C2, C3, C4, C5] -> (B, out_channels, H/4, W/4), contiguous in the default (NCHW) layout."""
        return self._project_with_coordinates(self.deconv(stages))

    def _project_with_coordinates(self, aggregated: torch.Tensor) -> torch.Tensor:
        """`loc_conv(cat([aggregated, x, y]))` without building the concatenation.

        The two coordinate channels (x then y, each linspace(-1, 1) across the width / height) only
        add `w_x * x + w_y * y` to each output channel, a column term plus a row term; together with
        the bias that map is the starting value of one matrix product over the aggregated channels.
        The product writes contiguous NCHW (the layout the decoder's products over pixels want)
        whatever layout the neck ran in.
        """
        batch, channels, height, width = aggregated.shape
        weight = self.loc_conv.weight.flatten(1)
        xs = torch.linspace(-1, 1, width, device=aggregated.device, dtype=aggregated.dtype)
        ys = torch.linspace(-1, 1, height, device=aggregated.device, dtype=aggregated.dtype)
        coordinates_and_bias = weight[:, channels, None, None] * xs.view(1, 1, width) + (
            weight[:, channels + 1, None, None] * ys.view(1, height, 1) + self.loc_conv.bias.view(-1, 1, 1)
        )
        out = torch.baddbmm(
            coordinates_and_bias.view(1, -1, height * width),
            weight[:, :channels].expand(batch, -1, -1),
            aggregated.flatten(2),
        )
        return out.view(batch, -1, height, width)

    def fuse_for_inference(self) -> None:
        self.deconv.fuse_for_inference()
