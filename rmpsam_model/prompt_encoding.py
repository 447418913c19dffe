"""Boxes (and clicks written as small boxes) -> the sine features the prompt queries are built from.

The released model encodes a prompt box by its normalised centre and size, each number through 128
interleaved sin/cos features (DETR-style), concatenated in the order cy, cx, w, h (docs/network.md,
Prompt queries). The learned part (a linear layer and two embeddings) lives in the decoder head; this
module is the fixed arithmetic, kept apart so it can be tested and reused on its own.
"""

from __future__ import annotations

import math

import torch

FEATURES_PER_COORDINATE = 128
SINE_TEMPERATURE = 10000.0
BOX_CLAMP = 1e-5  # the released code round-trips boxes through inverse_sigmoid(eps=1e-5) / sigmoid


def normalised_cxcywh(boxes_xyxy: torch.Tensor, img_shape: tuple[int, int]) -> torch.Tensor:
    """(P, 4) pixel boxes of the unpadded image -> (P, 4) centre / size in [1e-5, 1 - 1e-5]."""
    height, width = img_shape
    scale = boxes_xyxy.new_tensor([width, height, width, height])
    x1, y1, x2, y2 = (boxes_xyxy / scale).unbind(-1)
    cxcywh = torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)
    return cxcywh.clamp(BOX_CLAMP, 1 - BOX_CLAMP)


def sine_features(values: torch.Tensor, num_features: int = FEATURES_PER_COORDINATE) -> torch.Tensor:
    """(...,) values in [0, 1] -> (..., num_features): sin(v 2pi / t_i) for even i, cos for odd i,
    with t_i = 10000 ** (2 floor(i / 2) / num_features)."""
    index = torch.arange(num_features, device=values.device, dtype=values.dtype)
    periods = SINE_TEMPERATURE ** (2 * torch.div(index, 2, rounding_mode="floor") / num_features)
    phases = values[..., None] * (2 * math.pi) / periods
    return torch.stack((phases[..., 0::2].sin(), phases[..., 1::2].cos()), dim=-1).flatten(-2)


def box_sine_encoding(boxes_xyxy: torch.Tensor, img_shape: tuple[int, int]) -> torch.Tensor:
    """(P, 4) pixel boxes -> (P, 512) features in the released order cy, cx, w, h."""
    cx, cy, w, h = normalised_cxcywh(boxes_xyxy, img_shape).unbind(-1)
    return torch.cat([sine_features(value) for value in (cy, cx, w, h)], dim=-1)
