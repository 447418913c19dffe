"""The prompt adapter over a stack's per-frame keys, block by block: the same attention as over the keys joined."""

from __future__ import annotations

import torch

from rmpsam_model.adapters import ResidualCrossAttention


def test_attention_over_per_frame_keys_equals_attention_over_the_keys_joined():
    torch.manual_seed(1)
    attention = ResidualCrossAttention(32, 4).eval()
    frames = [torch.randn(1, 50, 32), torch.randn(1, 70, 32) * 3]  # unequal blocks, one with larger scores
    query = torch.randn(1, 2, 32)
    with torch.inference_mode():
        joined = attention(query, torch.cat(frames, dim=1))
        blocks = attention(query, projected=[attention.project_keys(frame) for frame in frames])
        one_block = attention(query, projected=[attention.project_keys(frames[0])])
        plain = attention(query, frames[0])
    torch.testing.assert_close(blocks, joined)
    torch.testing.assert_close(one_block, plain)
