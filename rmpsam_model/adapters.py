"""The prompt adapter's cross-attention from query kernels to every pixel of the feature map.

The released model wraps `nn.MultiheadAttention` in mmcv's `MultiheadAttention`, which adds the
query back as a residual; the wrapper's inner module is called `attn`, hence the released keys
`panoptic_head.prompt_attn.attn.*`. (The object adapter is a plain `KernelUpdate`.)
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualCrossAttention(nn.Module):
    """`query + MHA(query, keys, keys)`, batch-first."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, num_heads, batch_first=True)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (B, N, C), keys (B, L, C) -> (B, N, C)."""
        attended, _ = self.attn(query, keys, keys, need_weights=False)
        return query + attended
