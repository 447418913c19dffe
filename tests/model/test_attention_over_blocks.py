"""The prompt adapter's attention: the released `nn.MultiheadAttention`'s numbers, over channels-first
keys, and over a stack's per-frame keys block by block as over the keys joined."""

from __future__ import annotations

import torch

from rmpsam_model.adapters import ResidualCrossAttention


def test_attention_over_per_frame_keys_equals_attention_over_the_keys_joined():
    torch.manual_seed(1)
    attention = ResidualCrossAttention(32, 4).eval()
    frames = [torch.randn(1, 32, 50), torch.randn(1, 32, 70) * 3]  # unequal blocks, one with larger scores
    query = torch.randn(1, 2, 32)
    with torch.inference_mode():
        joined = attention(query, torch.cat(frames, dim=2))
        blocks = attention(query, projected=[attention.project_keys(frame) for frame in frames])
    torch.testing.assert_close(blocks, joined)


def test_channels_first_keys_give_the_released_multihead_attention():
    torch.manual_seed(2)
    attention = ResidualCrossAttention(32, 4).eval()
    keys = torch.randn(2, 32, 60)  # (B, C, L), as a feature map flattens
    query = torch.randn(2, 3, 32)
    with torch.inference_mode():
        pixels_first = keys.transpose(1, 2)
        released = query + attention.attn(query, pixels_first, pixels_first, need_weights=False)[0]
        ours = attention(query, keys)
        from_projection = attention(query, projected=attention.project_keys(keys))
    torch.testing.assert_close(ours, released)
    torch.testing.assert_close(from_projection, released)
