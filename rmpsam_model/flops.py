"""Analytic floating-point operation counts of the network for a config and an input size.

Speed is quoted against a floor: the network's FLOPs divided by the dense float32 matrix-product
rate measured on the same machine in the same run (docs/network.md, Cost). Counted here are the
multiply-adds of convolutions, linear layers and the decoder's products over pixels, two FLOPs each;
normalisations, activations, pooling and bilinear sampling are not counted (they are memory-bound,
and leaving them out keeps the floor a true lower bound). A transposed convolution counts its
k*k taps per *input* pixel, a deformable convolution counts its 3x3 contraction like a plain conv.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmpsam_model.config import RMPSAMConfig

RELEASED_CLASS_TABLE = (155, 17)  # (classes, prototypes) of the released vocabulary's text table


@dataclass(frozen=True)
class NetworkFlops:
    backbone: int
    neck: int
    decoder: int

    @property
    def total(self) -> int:
        return self.backbone + self.neck + self.decoder


def conv_flops(in_channels: int, out_channels: int, kernel: int, out_hw: tuple[int, int]) -> int:
    return 2 * in_channels * out_channels * kernel * kernel * out_hw[0] * out_hw[1]


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def backbone_stage_sizes(image_hw: tuple[int, int]) -> list[tuple[int, int]]:
    """Spatial sizes of the stem output and of C2..C5 for an input of `image_hw`."""
    stem = tuple(_conv_out(size, 7, 2, 3) for size in image_hw)
    sizes = [tuple(_conv_out(size, 3, 2, 1) for size in stem)]  # after the max-pool: C2
    for _ in range(3):
        sizes.append(tuple(_conv_out(size, 3, 2, 1) for size in sizes[-1]))
    return [stem, *sizes]  # type: ignore[list-item]


def backbone_flops(config: RMPSAMConfig, image_hw: tuple[int, int]) -> int:
    stem_hw, *stage_hws = backbone_stage_sizes(image_hw)
    flops = conv_flops(3, config.backbone_width, 7, stem_hw)
    in_channels, in_hw = config.backbone_width, stage_hws[0]
    for index, (num_blocks, out_hw) in enumerate(zip(config.blocks_per_stage, stage_hws)):
        width = config.backbone_width * 2**index
        out_channels = 4 * width
        for block in range(num_blocks):
            block_in, block_in_hw = (in_channels, in_hw) if block == 0 else (out_channels, out_hw)
            flops += conv_flops(block_in, width, 1, block_in_hw)  # before the stride (in the 3x3)
            flops += conv_flops(width, width, 3, out_hw) + conv_flops(width, out_channels, 1, out_hw)
            if block == 0:
                flops += conv_flops(block_in, out_channels, 1, out_hw)  # projected identity
        in_channels, in_hw = out_channels, out_hw
    return flops


def neck_flops(config: RMPSAMConfig, image_hw: tuple[int, int]) -> int:
    c2, c3, c4, c5 = config.stage_channels
    s2, s3, s4, s5 = backbone_stage_sizes(image_hw)[1:]
    width = config.aggregation_width
    flops = 0
    for in_channels, hw in ((c5 // 2, s5), (c4 // 2, s4), (c3 // 2, s3)):  # deform_conv1..3
        out_channels = in_channels // 2
        flops += conv_flops(in_channels, 27, 3, hw)  # dcn_offset
        flops += conv_flops(in_channels, out_channels, 3, hw)  # deformable 3x3
        flops += conv_flops(out_channels, out_channels, 4, hw)  # transposed conv: 16 taps per input pixel
    for channels, hw in ((c5, s5), (c4, s4), (c3, s3), (c2, s2)):
        flops += conv_flops(channels, channels // 2, 1, hw)  # lateral_conv0..3
        flops += conv_flops(channels // 2, width, 1, hw)  # conv_a5..a2
    flops += conv_flops(width, width, 3, s2)  # output_conv
    flops += conv_flops(width + 2, config.decoder_width, 1, s2)  # loc_conv
    return flops


def decoder_flops(
    config: RMPSAMConfig,
    image_hw: tuple[int, int],
    num_queries: int | None = None,
    class_table: tuple[int, int] = RELEASED_CLASS_TABLE,
) -> int:
    """The object-query decode of one image: initial masks, the stages, the object adapter."""
    queries = config.num_queries if num_queries is None else num_queries
    width, text_dim = config.decoder_width, config.text_dim
    _, (height, width_px), *_ = backbone_stage_sizes(image_hw)
    square = 2 * queries * width * width  # one width x width linear layer over all queries
    mask_product = 2 * queries * width * height * width_px  # kernels x features, or pooling under masks
    kernel_update = 7 * square  # dynamic and input layers (2 widths out each), two gates, fc
    class_scores = 2 * queries * text_dim * (class_table[0] + 1) * class_table[1]
    per_stage = (
        2 * mask_product  # pooling, then the new masks
        + kernel_update
        + 4 * square + 4 * queries * queries * width  # self-attention projections, scores, mixing
        + 2 * square * config.ffn_width // width  # FFN up and down
        + 7 * square  # cls_fcs, cls_proj (2), mask_fcs, fc_mask, iou_embed (2)
        + 2 * queries * width * (text_dim + 1)  # cls_proj to the text space, iou_embed to 1
        + class_scores
    )
    adapter = 2 * mask_product + kernel_update + 2 * queries * width * text_dim + class_scores
    return mask_product + config.num_stages * per_stage + adapter


def network_flops(config: RMPSAMConfig, image_hw: tuple[int, int]) -> NetworkFlops:
    """FLOPs of `extract_features` (backbone, neck) and `decode_objects` (decoder) on one image."""
    return NetworkFlops(
        backbone=backbone_flops(config, image_hw),
        neck=neck_flops(config, image_hw),
        decoder=decoder_flops(config, image_hw),
    )
