"""The prompt adapter's cross-attention from query kernels to every pixel of the feature map.

The released model wraps `nn.MultiheadAttention` in mmcv's `MultiheadAttention`, which adds the
query back as a residual; the wrapper's inner module is called `attn`, hence the released keys
`panoptic_head.prompt_attn.attn.*`. (The object adapter is a plain `KernelUpdate`.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualCrossAttention(nn.Module):
    """`query + MHA(query, keys, keys)`, batch-first queries, channels-first keys.

    The parameters live in an `nn.MultiheadAttention` (the released key names), but the forward
    pass calls the projections and the attention's products directly: with keys other than the
    query, `nn.MultiheadAttention` on the CPU splits the key/value projection into one tiny
    matmul per pixel, much slower for the same numbers (README, "Network"). The projected keys and values
    depend on the frame only, not on the prompt, so `project_keys` is separate: a predictor
    answering many clicks on one frame computes them once (`forward(..., projected=...)`).

    Keys are taken and kept channels first, (B, C, L), as a (B, C, H, W) feature map flattens:
    the projection is then one matrix product over the map as it lies, and each head's projected
    keys come out as a (D, L) block that the attention multiplies without a transpose. Taking
    them pixels first, as `nn.MultiheadAttention` does, copied the map into (L, C) and every
    head's keys and values into (L, D) blocks: 40 ms of a 75 ms projection at the released size.
    """

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, num_heads, batch_first=True)

    def project_keys(self, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """keys (B, C, L) -> per-head keys and values, each (B, heads, C / heads, L), in the keys'
        type (bfloat16 keys: `rmpsam_model.bfloat16`; the attention itself runs in the query's).

        Without their biases, which `forward` accounts for exactly: the key bias adds the same
        amount (query . bias) to all of a query's scores, which the softmax ignores, and the
        value bias comes out of a weighted mean (weights summing to one) unchanged, so it is
        added once to the result. Adding them here was a pass over every pixel's keys and values."""
        width, heads = self.attn.embed_dim, self.attn.num_heads
        projected = torch.matmul(self.attn.in_proj_weight[width:].to(keys.dtype), keys)
        batch, length = keys.shape[0], keys.shape[2]
        projected_k, projected_v = projected.view(batch, 2, heads, width // heads, length).unbind(1)
        return projected_k, projected_v

    def forward(self, query: torch.Tensor, keys: torch.Tensor | None = None,
                projected: tuple[torch.Tensor, torch.Tensor] | list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                ) -> torch.Tensor:
        """query (B, N, C) and keys (B, C, L), or their `project_keys` -> (B, N, C).

        `projected` may also be a list of projections, one per block of keys (the frames of a
        stack): the attention is then over all their keys as if joined, without joining them."""
        if projected is None:
            if keys is None:
                raise ValueError("give keys or their projection")
            projected = self.project_keys(keys)
        width, heads = self.attn.embed_dim, self.attn.num_heads
        batch, count = query.shape[:2]
        q = F.linear(query, self.attn.in_proj_weight[:width], self.attn.in_proj_bias[:width])
        q = q.reshape(batch, count, heads, width // heads).transpose(1, 2)
        attended = _attention_over_blocks(q, projected if isinstance(projected, list) else [projected])
        attended = attended + self.attn.in_proj_bias[2 * width:].view(heads, 1, width // heads)  # `project_keys`
        return query + self.attn.out_proj(attended.transpose(1, 2).reshape(batch, count, width))


def _attention_over_blocks(q: torch.Tensor, blocks: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Softmax attention of q (B, H, N, D) over the keys of every block joined, block by block:
    each block's scores against one shared maximum, weights summed across blocks. Joining the
    keys first meant copying two frames' worth of them (75 MB at the released size) for every
    stacked decode, more time than the attention itself; the few queries make the scores small.
    Blocks are `project_keys`' (B, H, D, L) keys and values."""
    scale = q.shape[-1] ** -0.5
    scores = [torch.matmul(q, key.to(q.dtype)) * scale for key, _ in blocks]
    peak = torch.stack([block.amax(-1, keepdim=True) for block in scores]).amax(0)
    weights = [torch.exp(block - peak) for block in scores]
    total = torch.stack([block.sum(-1, keepdim=True) for block in weights]).sum(0)
    attended = torch.stack([torch.matmul(w, value.to(q.dtype).transpose(-2, -1))
                            for w, (_, value) in zip(weights, blocks)]).sum(0)
    return attended / total
