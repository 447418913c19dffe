"""ResNet backbone, PyTorch style (stride in the 3x3 conv), returning the four stages C2..C5.

Parameter names are the usual torchvision / MMDetection ones (`conv1`, `bn1`, `layerN.i.convK`,
`bnK`, `downsample.0/1`), so the released checkpoint's `backbone.*` keys load unchanged. BatchNorm
runs from its stored statistics at inference; `fuse_for_inference` folds it into the convolutions.
"""

from __future__ import annotations

import torch
from torch import nn

from rmpsam_model.bn_fold import fold_batch_norm_into_conv


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4, plus the (projected) identity."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int, project_identity: bool) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
            if project_identity
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)

    def fuse_for_inference(self) -> None:
        self.conv1, self.bn1 = fold_batch_norm_into_conv(self.conv1, self.bn1)
        self.conv2, self.bn2 = fold_batch_norm_into_conv(self.conv2, self.bn2)
        self.conv3, self.bn3 = fold_batch_norm_into_conv(self.conv3, self.bn3)
        if self.downsample is not None:
            self.downsample[0], self.downsample[1] = fold_batch_norm_into_conv(*self.downsample)


class ResNet(nn.Module):
    """Stem (7x7 stride-2 conv, max-pool) and four stages of bottlenecks at strides 4, 8, 16, 32."""

    def __init__(self, base_width: int, blocks_per_stage: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, base_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = base_width
        for index, num_blocks in enumerate(blocks_per_stage):
            width = base_width * 2**index
            stride = 1 if index == 0 else 2
            blocks = [Bottleneck(in_channels, width, stride, project_identity=True)]
            in_channels = width * Bottleneck.expansion
            blocks += [Bottleneck(in_channels, width, 1, project_identity=False) for _ in range(num_blocks - 1)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalised images -> [C2, C3, C4, C5] at strides 4, 8, 16, 32."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        stages = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            stages.append(x)
        return stages

    def fuse_for_inference(self) -> None:
        """Fold every BatchNorm into its convolution (same outputs, fewer passes over memory)."""
        self.conv1, self.bn1 = fold_batch_norm_into_conv(self.conv1, self.bn1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                block.fuse_for_inference()
