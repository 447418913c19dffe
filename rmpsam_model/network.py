"""RMP-SAM: backbone + neck give a stride-4 feature map once per frame; the decoder answers queries.

The split mirrors how the tool uses the network: `extract_features` is the expensive part (run
once per frame, cached by the predictor), the `decode_*` methods are cheap and run many times per
frame (each click, the object queries, a clip). The module tree's parameter names are exactly the
released checkpoint's keys (`backbone.*`, `neck.*`, `panoptic_head.*`), so
`model.load_state_dict(state_dict)` loads the published weights as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from rmpsam_model.backbone import ResNet
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.decoder import DecodeOutput, PanopticHead, independent_queries_mask
from rmpsam_model.neck import Neck

__all__ = ["RMPSAM", "DecodeOutput"]


class RMPSAM(nn.Module):
    def __init__(self, config: RMPSAMConfig | None = None) -> None:
        super().__init__()
        self.config = config or RMPSAMConfig.released()
        self.backbone = ResNet(self.config.backbone_width, self.config.blocks_per_stage)
        self.neck = Neck(self.config.stage_channels, self.config.aggregation_width, self.config.decoder_width)
        self.panoptic_head = PanopticHead(self.config)
        self.eval()

    def extract_features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised, zero-padded images (H, W multiples of 32) -> (B, 256, H/4, W/4)
        contiguous NCHW. The backbone and neck run channels-last, which oneDNN's CPU convolutions
        (and cuDNN's) prefer; the decoder gets the plain layout its matrix products want."""
        return self.neck(self.backbone(images.contiguous(memory_format=torch.channels_last)))

    def set_class_embedding(self, table: torch.Tensor) -> None:
        """The (classes, prototypes, D) text-embedding table the class scores compare against."""
        self.panoptic_head.set_class_embedding(table)

    def decode_objects(self, features: torch.Tensor) -> DecodeOutput:
        """The learned object queries on each image of `features` (B, 256, h, w)."""
        return self.panoptic_head.decode_objects(features)

    def decode_prompts(
        self,
        features: torch.Tensor,
        boxes_xyxy: torch.Tensor,
        labels: torch.Tensor,
        img_shape: tuple[int, int],
    ) -> DecodeOutput:
        """Prompt boxes (P, 4) in pixels of the unpadded resized image (h, w) = `img_shape`, labels (P,)
        (1 for a click written as a 6-pixel box, as the released evaluation does), each decoded alone."""
        return self.panoptic_head.decode_prompts(features, boxes_xyxy, labels, img_shape)

    def decode_clip(self, features: torch.Tensor) -> DecodeOutput:
        """The object queries over a clip's (T, 256, h, w) features as one tube; masks (1, N, T, h, w)."""
        return self.panoptic_head.decode_clip(features)

    def decode_from_kernels(
        self,
        features: torch.Tensor,
        kernels: torch.Tensor,
        initial_masks: torch.Tensor | None = None,
        independent: bool = True,
    ) -> DecodeOutput:
        """Run the decoder stages from given kernels (B, N, 256), e.g. a kernel carried over from a
        keyframe, optionally seeding the first pooling with `initial_masks` (B, N, h, w) logits
        (such as the previous frame's mask). No adapter is applied: the caller picks
        `panoptic_head.adapt_prompts` / `adapt_objects` if it wants one."""
        attention_mask = independent_queries_mask(kernels.shape[1], features.device) if independent else None
        return self.panoptic_head.run_stages(features, kernels, initial_masks, attention_mask)

    def fuse_for_inference(self) -> RMPSAM:
        """Fold BatchNorm into the convolutions and store conv weights channels-last (same outputs,
        faster on CPU). Afterwards the state dict no longer has the released keys: load weights
        first, fuse, then only run inference."""
        self.eval()
        self.backbone.fuse_for_inference()
        self.neck.fuse_for_inference()
        return self.to(memory_format=torch.channels_last)
