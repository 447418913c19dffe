"""The decoder's pixel-level products without copies: the same numbers from channels-last features
as from contiguous ones, and attention over a stack's per-frame keys as over the keys joined."""

from __future__ import annotations

import torch

from rmpsam_model.adapters import ResidualCrossAttention
from rmpsam_model.mask_head import masks_from_kernels, pixel_matrix, pool_under_masks


def test_pixel_matrix_is_a_view_in_either_layout_with_the_same_numbers():
    torch.manual_seed(0)
    features = torch.randn(1, 16, 6, 10)
    channels_last = features.contiguous(memory_format=torch.channels_last)
    for tensor in (features, channels_last):
        matrix = pixel_matrix(tensor)
        assert matrix.shape == (1, 16, 60) and matrix.data_ptr() == tensor.data_ptr()  # no copy
        torch.testing.assert_close(matrix, features.reshape(1, 16, 60), rtol=0, atol=0)
    kernels, masks = torch.randn(1, 3, 16), torch.randn(1, 3, 6, 10)
    torch.testing.assert_close(masks_from_kernels(kernels, channels_last), masks_from_kernels(kernels, features))
    torch.testing.assert_close(pool_under_masks(masks, channels_last), pool_under_masks(masks, features))


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
