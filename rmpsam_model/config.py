"""The sizes that define an RMP-SAM network.

One dataclass names every width and count the module tree depends on, so the released model, the
small parity fixture and any narrower model the training code wants are the same code with
different numbers. Nothing here depends on the class vocabulary: the class-embedding table is
supplied at run time (`RMPSAM.set_class_embedding`) and may have any number of classes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RMPSAMConfig:
    """Widths and counts of the backbone, neck and decoder (docs/network.md)."""

    backbone_width: int = 64
    """ResNet base width: the stem has this many channels, stage i outputs 4 * width * 2**i."""
    blocks_per_stage: tuple[int, int, int, int] = (3, 4, 6, 3)
    """Bottleneck blocks in each of the four ResNet stages ((3, 4, 6, 3) is ResNet-50)."""
    aggregation_width: int = 128
    """Channels of the neck's multi-scale sum before the final 256-channel projection."""
    decoder_width: int = 256
    """Width of the stride-4 feature map, the query kernels and every decoder layer."""
    num_queries: int = 100
    """Learned object queries of the panoptic / video-instance mode."""
    num_stages: int = 3
    """Decoder stages (each a kernel update, self-attention, FFN and prediction heads)."""
    num_heads: int = 8
    """Attention heads of the query self-attention and of the prompt adapter."""
    ffn_width: int = 2048
    """Hidden width of each decoder stage's feed-forward block."""
    text_dim: int = 768
    """Width of the class-embedding (text) space the class branch projects into."""
    num_classes: int = 155
    """Size of the vocabulary the weights were trained with (102 thing + 53 stuff classes)."""

    def __post_init__(self) -> None:
        if len(self.blocks_per_stage) != 4 or min(self.blocks_per_stage) < 1:
            raise ValueError(f"blocks_per_stage needs four counts >= 1, got {self.blocks_per_stage}")
        if self.decoder_width % self.num_heads:
            raise ValueError(f"decoder_width {self.decoder_width} is not divisible by num_heads {self.num_heads}")
        if self.backbone_width < 1 or self.aggregation_width < 1:
            raise ValueError("backbone_width and aggregation_width must be positive")

    @property
    def stage_channels(self) -> tuple[int, int, int, int]:
        """Output channels of the backbone stages C2..C5 (256/512/1024/2048 for ResNet-50)."""
        return tuple(4 * self.backbone_width * 2**i for i in range(4))  # type: ignore[return-value]

    @classmethod
    def released(cls) -> RMPSAMConfig:
        """The published `rapsam_r50_12e.pth`: ResNet-50, aggregation width 128, 768-d CLIP text space."""
        return cls()

    @classmethod
    def parity_tiny(cls) -> RMPSAMConfig:
        """The reference fixture `parity_tiny.pth`: the released layout at base width 8 (aggregation 32)."""
        return cls(backbone_width=8, aggregation_width=32)
