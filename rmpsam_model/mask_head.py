"""One decoder stage: refine query kernels against the feature map and predict from them.

A stage is a function of (kernels, masks, features): pool the features under each query's current
hard mask, update the kernels from that, let the queries attend to each other, and predict a class
embedding, an IoU estimate and new masks (docs/network.md, Decoder). It knows nothing of
where the kernels came from (learned object queries, prompts, or a kernel carried over from another
frame), which is what makes it reusable for propagation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rmpsam_model.kernel_update import KernelUpdate


@dataclass
class StageOutput:
    kernels: torch.Tensor  # (B, N, C): the refined query embeddings, input to the next stage
    masks: torch.Tensor  # (B, N, H, W) mask logits
    class_embedding: torch.Tensor  # (B, N, D) un-normalised, to be compared with the class table
    iou: torch.Tensor  # (B, N, 1)


def masks_from_kernels(kernels: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Mask logits: every kernel dotted with every pixel's feature, (B, N, C) x (B, C, H, W) -> (B, N, H, W).

    The product runs in the features' type (bfloat16 features: `rmpsam_model.bfloat16`); the
    logits come back in the kernels' type."""
    batch, channels, height, width = features.shape
    logits = torch.bmm(kernels.to(features.dtype), features.reshape(batch, channels, height * width))
    return logits.to(kernels.dtype).view(batch, -1, height, width)


def pool_under_masks(masks: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Sum (not mean) of the features under each query's hard mask: (B, N, C).

    The released code thresholds `sigmoid(logit) > 0.5`, which is `logit > 0`; comparing the logit
    directly saves a pass over the masks (the two can only disagree for |logit| < 1e-7, where float
    rounding of the logit itself already decides). The sums run in the features' type and come
    back in the masks' type, as `masks_from_kernels`."""
    batch, channels, height, width = features.shape
    # Compared straight into the features' type: one pass, where `(masks > 0).to(...)` makes two.
    hard = torch.gt(masks, 0, out=masks.new_empty(masks.shape, dtype=features.dtype)).view(batch, -1, height * width)
    return torch.bmm(hard, features.reshape(batch, channels, height * width).transpose(1, 2)).to(masks.dtype)


class FeedForward(nn.Module):
    """`x + W2 relu(W1 x)`; the nesting of `layers` reproduces the released `ffn.layers.0.0` / `.1` keys."""

    def __init__(self, width: int, hidden_width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(width, hidden_width), nn.ReLU(inplace=True)),
            nn.Linear(hidden_width, width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


def _linear_norm_relu(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, width, bias=False), nn.LayerNorm(width), nn.ReLU(inplace=True))


def _three_layer_mlp(width: int, out_width: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(width, width), nn.ReLU(inplace=True),
        nn.Linear(width, width), nn.ReLU(inplace=True),
        nn.Linear(width, out_width),
    )  # fmt: skip


class DecoderStage(nn.Module):
    """The released `panoptic_head.mask_heads.i` (a "CrossAttenHead" with a kernel updater)."""

    def __init__(self, width: int, num_heads: int, ffn_width: int, text_dim: int) -> None:
        super().__init__()
        self.kernel_update = KernelUpdate(width)
        self.s_atten = nn.MultiheadAttention(width, num_heads)  # sequence-first, as released
        self.s_atten_norm = nn.LayerNorm(width)
        self.ffn = FeedForward(width, ffn_width)
        self.ffn_norm = nn.LayerNorm(width)
        self.cls_fcs = _linear_norm_relu(width)
        self.cls_proj = _three_layer_mlp(width, text_dim)
        self.mask_fcs = _linear_norm_relu(width)
        self.fc_mask = nn.Linear(width, width)
        self.iou_embed = _three_layer_mlp(width, 1)

    def forward(
        self,
        features: torch.Tensor,
        kernels: torch.Tensor,
        masks: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> StageOutput:
        """features (B, C, H, W), kernels (B, N, C), masks (B, N, H, W) logits.

        `attention_mask` (N, N) bool, True where query i may NOT look at query j; prompts pass the
        negated identity so each one is decoded independently of the others.
        """
        kernels = self.kernel_update(pool_under_masks(masks, features), kernels)
        sequence_first = kernels.transpose(0, 1)
        attended, _ = self.s_atten(sequence_first, sequence_first, sequence_first, attn_mask=attention_mask, need_weights=False)
        kernels = self.s_atten_norm((sequence_first + attended).transpose(0, 1))
        kernels = self.ffn_norm(self.ffn(kernels))
        mask_feature = self.mask_fcs(kernels)
        return StageOutput(
            kernels=kernels,
            masks=masks_from_kernels(self.fc_mask(mask_feature), features),
            class_embedding=self.cls_proj(self.cls_fcs(kernels)),
            iou=self.iou_embed(mask_feature),
        )
