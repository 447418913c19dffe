"""Folding inference-mode BatchNorm into the convolution before it.

In eval mode BatchNorm is a per-channel affine map, `y = scale * x + shift`, so it can be absorbed
into the preceding convolution's weight and bias. The folded network computes the same function
with one pass over each activation instead of two, which matters on CPU where the backbone and
neck are memory-bound between convolutions. The folded module no longer has the released
state-dict keys: fold after loading weights, for inference only.
"""

from __future__ import annotations

import torch
from torch import nn


def batch_norm_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel (scale, shift) that `bn` applies in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@torch.no_grad()
def fold_batch_norm_into_conv(conv: nn.Module, bn: nn.BatchNorm2d) -> tuple[nn.Module, nn.Identity]:
    """Return `conv` with `bn` folded into its weight and bias, and an Identity to replace `bn`.

    Works for any module with a `weight` whose output channels are on axis 0 (Conv2d, the
    deformable conv) or axis 1 (ConvTranspose2d), and an optional `bias`.
    """
    scale, shift = batch_norm_scale_shift(bn)
    out_axis = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
    view = [1] * conv.weight.dim()
    view[out_axis] = -1
    conv.weight.mul_(scale.view(view))
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)
    return conv, nn.Identity()
