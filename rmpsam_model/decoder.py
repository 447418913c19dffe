"""The decoder head: queries in, per-stage masks / class scores / IoU estimates out.

Three kinds of queries share the same stages (docs/network.md, Decoder, Prompt queries, Video mode):
- the 100 learned object queries (panoptic / instance mode), finished by the object adapter;
- prompt queries built from boxes and clicks, decoded independently of each other, finished by the
  prompt adapter;
- the object queries over a clip whose frames are stacked along the height axis (video mode).
`run_stages` is the shared part, a plain function of (features, kernels, initial masks), so callers
can also start from kernels they carried over from another frame.

Class scores need the class-embedding table, which is not part of the checkpoint; without one the
class entries of the output are None and everything else is still computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from rmpsam_model.adapters import ResidualCrossAttention
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.kernel_update import KernelUpdate
from rmpsam_model.mask_head import DecoderStage, masks_from_kernels, pool_under_masks
from rmpsam_model.prompt_encoding import FEATURES_PER_COORDINATE, box_sine_encoding

LOGIT_SCALE = math.exp(4.6052)  # the released (frozen) log logit scale, so about 100
STAGE_TEMPERATURE = 0.1  # decoder-stage class scores are divided by it; the object adapter's are not
NUM_PROMPT_LABELS = 2  # the released prompt-type embedding rows (its evaluation uses 1 for clicks)


@dataclass
class DecodeOutput:
    """Everything the decoder predicts: one entry per stage (3 decoder stages, then the adapter)."""

    stage_masks: list[torch.Tensor] = field(default_factory=list)  # (B, N, H, W) or (B, N, T, H, W) logits
    stage_cls: list[torch.Tensor | None] = field(default_factory=list)  # (B, N, classes + 1), last = "no object"
    stage_iou: list[torch.Tensor] = field(default_factory=list)  # (B, N, 1)
    kernels: torch.Tensor | None = None  # (B, N, C) the final query kernels

    @property
    def masks(self) -> torch.Tensor:
        return self.stage_masks[-1]

    @property
    def cls(self) -> torch.Tensor | None:
        return self.stage_cls[-1]

    @property
    def iou(self) -> torch.Tensor:
        return self.stage_iou[-1]


class PanopticHead(nn.Module):
    """The released `panoptic_head` (RapSAMVideoHead with kernel-updater stages and adapters)."""

    def __init__(self, config: RMPSAMConfig) -> None:
        super().__init__()
        width = config.decoder_width
        self.text_dim = config.text_dim
        self.mask_tokens = nn.Embedding(1, width)
        self.pb_embedding = nn.Embedding(NUM_PROMPT_LABELS, width)
        self.pos_linear = nn.Linear(4 * FEATURES_PER_COORDINATE, width)
        self.kernels = nn.Embedding(config.num_queries, width)
        self.mask_heads = nn.ModuleList(
            DecoderStage(width, config.num_heads, config.ffn_width, config.text_dim) for _ in range(config.num_stages)
        )
        self.panoptic_attn = KernelUpdate(width)
        self.panoptic_cls = nn.Sequential(nn.Linear(width, config.text_dim))
        self.prompt_attn = ResidualCrossAttention(width, config.num_heads)
        self.prompt_norm = nn.LayerNorm(width)
        self.prompt_iou = nn.Linear(width, 1)
        # (classes + 1, prototypes, D), the last row all zeros ("no object"); not in the state dict.
        self.register_buffer("class_table", None, persistent=False)
        # The type of the mask products over every pixel; None: the features' own. bfloat16 on CPUs
        # with bfloat16 units (`rmpsam_model.bfloat16.use_bfloat16_products`).
        self.product_dtype: torch.dtype | None = None

    # ---- class scores ------------------------------------------------------------------------
    def set_class_embedding(self, table: torch.Tensor) -> None:
        """Install the (classes, prototypes, D) L2-normalised text-embedding table, used as given."""
        if table.dim() != 3 or table.shape[-1] != self.text_dim:
            raise ValueError(f"class embedding must be (classes, prototypes, {self.text_dim}), got {tuple(table.shape)}")
        reference = self.kernels.weight
        table = table.to(device=reference.device, dtype=reference.dtype)
        self.class_table = torch.cat([table, table.new_zeros(1, *table.shape[1:])])

    def class_logits(self, class_embedding: torch.Tensor) -> torch.Tensor | None:
        """Scaled cosine similarity to each class (max over its prototypes): (B, N, D) -> (B, N, classes + 1)."""
        if self.class_table is None:
            return None
        similarity = torch.einsum("bnd,kpd->bnkp", F.normalize(class_embedding, dim=-1), self.class_table)
        return LOGIT_SCALE * similarity.amax(dim=-1)

    # ---- queries -----------------------------------------------------------------------------
    def object_queries(self, batch: int) -> torch.Tensor:
        """The learned object kernels, (batch, num_queries, C)."""
        return self.kernels.weight.unsqueeze(0).expand(batch, -1, -1)

    def prompt_queries(self, boxes_xyxy: torch.Tensor, labels: torch.Tensor, img_shape: tuple[int, int]) -> torch.Tensor:
        """(P, 4) pixel boxes of the unpadded resized image and (P,) labels -> (P, C) kernels."""
        content = self.pb_embedding(labels.long()) + self.mask_tokens.weight[0]
        return content + self.pos_linear(box_sine_encoding(boxes_xyxy.to(content.dtype), img_shape))

    # ---- decoding ----------------------------------------------------------------------------
    def product_features(self, features: torch.Tensor) -> torch.Tensor:
        """`features` in the type of the mask products (the same tensor when it already is)."""
        return features if self.product_dtype is None else features.to(self.product_dtype)

    def run_stages(
        self,
        features: torch.Tensor,
        kernels: torch.Tensor,
        masks: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> DecodeOutput:
        """The decoder stages from `kernels` (B, N, C); the first pooling uses `masks` (B, N, H, W)
        logits, by default the kernels' own masks `kernels . F`."""
        features = self.product_features(features)
        if masks is None:
            masks = masks_from_kernels(kernels, features)
        output = DecodeOutput()
        for stage in self.mask_heads:
            result = stage(features, kernels, masks, attention_mask)
            kernels, masks = result.kernels, result.masks
            logits = self.class_logits(result.class_embedding)
            output.stage_masks.append(masks)
            output.stage_cls.append(None if logits is None else logits / STAGE_TEMPERATURE)
            output.stage_iou.append(result.iou)
        output.kernels = kernels
        return output

    def adapt_objects(self, features: torch.Tensor, output: DecodeOutput) -> DecodeOutput:
        """Object adapter: one more kernel update from the last masks; masks straight from its kernels."""
        features = self.product_features(features)
        kernels = self.panoptic_attn(pool_under_masks(output.masks, features), output.kernels)
        output.stage_masks.append(masks_from_kernels(kernels, features))
        output.stage_cls.append(self.class_logits(self.panoptic_cls(kernels)))
        output.stage_iou.append(output.iou)
        output.kernels = kernels
        return output

    def prompt_pixel_keys(self, features: torch.Tensor,
                          product_features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompt adapter's keys and values of every pixel: depend on the frame only, so a
        caller decoding many prompts on one frame can compute them once. The projection runs in the
        mask products' type (a product over every pixel like them), the keys come back in the
        features' type: converted once here rather than at every decode that attends to them.
        `product_features`: `product_features(features)`, if the caller has made it already."""
        if product_features is None:
            product_features = self.product_features(features)
        keys, values = self.prompt_attn.project_keys(product_features.flatten(2))
        return keys.to(features.dtype), values.to(features.dtype)

    def adapt_prompts(self, features: torch.Tensor, output: DecodeOutput,
                      pixel_keys: tuple[torch.Tensor, torch.Tensor] | list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                      ) -> DecodeOutput:
        """Prompt adapter: cross-attention from each kernel to every pixel, new masks and IoU.
        `pixel_keys`: `prompt_pixel_keys(features)`, if already computed; for height-stacked
        frames, each frame's in stacking order (`ResidualCrossAttention.forward`)."""
        kernels = self.prompt_norm(self.prompt_attn(output.kernels, projected=pixel_keys or self.prompt_pixel_keys(features)))
        output.stage_masks.append(masks_from_kernels(kernels, self.product_features(features)))
        output.stage_cls.append(output.cls)
        output.stage_iou.append(self.prompt_iou(kernels))
        output.kernels = kernels
        return output

    def decode_objects(self, features: torch.Tensor) -> DecodeOutput:
        """features (B, C, H, W) -> the object queries through the stages and the object adapter."""
        features = self.product_features(features)  # once for both: the object path needs no other type
        output = self.run_stages(features, self.object_queries(features.shape[0]))
        return self.adapt_objects(features, output)

    def decode_prompts(
        self,
        features: torch.Tensor,
        boxes_xyxy: torch.Tensor,
        labels: torch.Tensor,
        img_shape: tuple[int, int],
    ) -> DecodeOutput:
        """features (B, C, H, W), the same P prompts for every image -> (B, P, ...) predictions,
        each prompt decoded as if it were alone (attention only to itself)."""
        queries = self.prompt_queries(boxes_xyxy, labels, img_shape)
        kernels = queries.unsqueeze(0).expand(features.shape[0], -1, -1)
        output = self.run_stages(features, kernels, attention_mask=independent_queries_mask(queries.shape[0], features.device))
        return self.adapt_prompts(features, output)

    def decode_clip(self, features: torch.Tensor) -> DecodeOutput:
        """features (T, C, H, W) of one clip -> object queries decoded over the frames stacked along
        the height axis, as the released video mode does; masks come back as (1, N, T, H, W)."""
        frames, channels, height, width = features.shape
        stacked = features.transpose(0, 1).reshape(1, channels, frames * height, width)
        output = self.decode_objects(stacked)
        output.stage_masks = [masks.unflatten(2, (frames, height)) for masks in output.stage_masks]
        return output


def independent_queries_mask(num_queries: int, device: torch.device) -> torch.Tensor:
    """(N, N) attention mask, True = blocked, that lets every query attend only to itself."""
    return ~torch.eye(num_queries, dtype=torch.bool, device=device)
